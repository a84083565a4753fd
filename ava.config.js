export default {
  typescript: {
    rewritePaths: {
      'src/': 'dist/src/',
      'test/': 'dist/test/',
    },
    compile: false,
  },
  files: ['test/**/*.test.ts'],
  timeout: '120s',
  workerThreads: false,
};
