import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import tsqomLayers from './tools/eslint/layers.js';

export default tseslint.config(
  { ignores: ['dist/', 'build/', 'docs/api/', 'node_modules/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        setImmediate: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-declaration-merging': 'off',
    },
  },
  {
    files: ['src/**/*.ts'],
    plugins: { tsqom: tsqomLayers },
    rules: { 'tsqom/layers': 'error' },
  },
);
