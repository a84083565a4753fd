// A local ESLint rule: an import in src/ may only go down the layer order
// documented in the README (native <- util/qobject/qapi <- qom <- system <-
// io <- chardev/backends <- hw <- monitor <- cli <- tools). Peers on one
// rank may import each other; the package root (src/index.ts) may import
// anything.
import path from 'node:path';

/** Rank of each top-level folder of src/; equal ranks are peers. */
export const LAYERS = {
  native: 0,
  util: 1,
  qobject: 1,
  qapi: 1,
  qom: 2,
  system: 3,
  io: 4,
  chardev: 5,
  backends: 5,
  hw: 6,
  monitor: 7,
  cli: 8,
  tools: 9,
  // The package's subpath entry points (tsqom/qom, tsqom/qmp, ...) re-export the layers below.
  entry: 10,
};

function layerOf(file, srcRoot) {
  const rel = path.relative(srcRoot, file);
  if (rel.startsWith('..') || path.isAbsolute(rel)) return null;
  const parts = rel.split(path.sep);
  if (parts.length === 1) return { name: '(root)', rank: Infinity };
  const rank = LAYERS[parts[0]];
  return rank === undefined ? { name: parts[0], rank: undefined } : { name: parts[0], rank };
}

export const layersRule = {
  meta: {
    type: 'problem',
    docs: { description: 'imports in src/ go down the layer order, never up' },
    schema: [{ type: 'object', properties: { srcRoot: { type: 'string' } } }],
    messages: {
      upward:
        "'{{from}}' (layer {{fromRank}}) may not import '{{spec}}' from '{{to}}' (layer {{toRank}}): imports go down the layer order",
      unknown: "'{{name}}' is not a known layer of src/; add it to tools/eslint/layers.js",
    },
  },
  create(context) {
    const filename = context.filename ?? context.getFilename();
    const opt = context.options[0] ?? {};
    const srcRoot = path.resolve(context.cwd ?? process.cwd(), opt.srcRoot ?? 'src');
    const from = layerOf(filename, srcRoot);
    if (!from) return {};
    const check = (node, spec) => {
      if (typeof spec !== 'string' || !spec.startsWith('.')) return;
      const target = path.resolve(path.dirname(filename), spec);
      const to = layerOf(target, srcRoot);
      if (!to) {
        context.report({
          node,
          messageId: 'upward',
          data: { from: from.name, fromRank: from.rank, spec, to: 'outside src/', toRank: '-' },
        });
        return;
      }
      if (from.rank === undefined) {
        context.report({ node, messageId: 'unknown', data: { name: from.name } });
        return;
      }
      if (to.rank === undefined) {
        context.report({ node, messageId: 'unknown', data: { name: to.name } });
        return;
      }
      if (to.rank > from.rank) {
        context.report({
          node,
          messageId: 'upward',
          data: {
            from: from.name,
            fromRank: from.rank,
            spec,
            to: to.name,
            toRank: to.rank === Infinity ? 'root' : to.rank,
          },
        });
      }
    };
    return {
      ImportDeclaration: (n) => check(n.source, n.source.value),
      ExportAllDeclaration: (n) => check(n.source, n.source.value),
      ExportNamedDeclaration: (n) => n.source && check(n.source, n.source.value),
      ImportExpression: (n) => n.source.type === 'Literal' && check(n.source, n.source.value),
    };
  },
};

export default { rules: { layers: layersRule } };
