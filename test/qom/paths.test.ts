// The composition tree: root containers, canonical paths, absolute and
// partial path resolution (qom/object.c, qom/container.c).
import test from 'ava';
import {
  QomError,
  type QomObject,
  TYPE_CONTAINER,
  TYPE_OBJECT,
  containerGet,
  objectGetContainer,
  objectGetInternalRoot,
  objectGetObjectsRoot,
  objectGetRoot,
  objectNew,
  objectPropertyAddNewContainer,
  objectPropertyAllowSetLink,
  objectResolvePath,
  objectResolvePathAt,
  objectResolvePathType,
  objectResolveTypeUnambiguous,
  typeRegister,
} from '../../src/qom/index.js';

typeRegister({ name: 'pt-leaf', parent: TYPE_OBJECT });
typeRegister({ name: 'pt-other', parent: TYPE_OBJECT });

const objects = objectGetObjectsRoot();
const a = objectPropertyAddNewContainer(objects, 'a');
const b = objectPropertyAddNewContainer(objects, 'b');
function add(parent: QomObject, name: string, type: string): QomObject {
  const o = objectNew(type);
  parent.propertyAddChild(name, o);
  o.unref();
  return o;
}
const ax = add(a, 'x', 'pt-leaf');
const bx = add(b, 'x', 'pt-leaf');
const by = add(b, 'y', 'pt-other');
let lnkTarget: QomObject | null = null;
b.propertyAddLink(
  'lnk',
  TYPE_OBJECT,
  () => lnkTarget,
  (t) => {
    lnkTarget = t;
  },
  { check: objectPropertyAllowSetLink },
);
b.propertySet('lnk', '/objects/a/x');
b.propertyAddAlias('al', a, 'x');

test('the root and its containers', (t) => {
  const root = objectGetRoot();
  t.is(root.typeName, TYPE_CONTAINER);
  t.is(root.canonicalPath(), '/');
  t.is(root.parent, null);
  const names = [...root.children()].map((c) => c.canonicalPathComponent());
  // QEMU 7.2 creates them on first use: only /objects is in use here.
  t.deepEqual(names, ['objects']);
  for (const n of ['audiodevs', 'chardevs', 'objects', 'backend']) {
    const c = objectGetContainer(n);
    t.is(c.typeName, TYPE_CONTAINER);
    t.is(c.canonicalPath(), `/${n}`);
    t.is(root.propertyGetType(n), 'child<container>');
  }
  t.is(objectGetContainer('objects'), objectGetObjectsRoot());
  t.throws(() => objectGetContainer('machine'), { message: "container 'machine' not found" });
  const internal = objectGetInternalRoot();
  t.is(internal.typeName, TYPE_CONTAINER);
  t.is(internal.canonicalPath(), null, 'outside the tree');
  t.is(objectGetInternalRoot(), internal);
});

test('canonical paths', (t) => {
  t.is(ax.canonicalPath(), '/objects/a/x');
  t.is(ax.canonicalPathComponent(), 'x');
  t.is(objects.propertyGet('a'), '/objects/a');
  const detached = objectNew(TYPE_CONTAINER);
  const kid = add(detached, 'kid', 'pt-leaf');
  t.is(detached.canonicalPath(), null);
  t.is(detached.canonicalPathComponent(), null);
  t.is(kid.canonicalPath(), null, 'incomplete paths are discarded');
  t.is(kid.canonicalPathComponent(), 'kid');
  detached.unref();
  t.true(kid.finalized);
});

test('path resolution table', (t) => {
  const root = objectGetRoot();
  const rows: [path: string, typename: string, obj: QomObject | null, ambiguous: boolean][] = [
    ['/', TYPE_OBJECT, root, false],
    ['//objects', TYPE_OBJECT, objects, false],
    ['/objects/', TYPE_OBJECT, objects, false],
    ['/objects//a', TYPE_OBJECT, a, false],
    ['/objects/a/x', TYPE_OBJECT, ax, false],
    ['/objects/a/x', 'pt-leaf', ax, false],
    ['/objects/a/x', 'pt-other', null, false],
    ['/objects/a/x', 'no-such-type', null, false],
    ['/nope', TYPE_OBJECT, null, false],
    ['/objects/a/x/deeper', TYPE_OBJECT, null, false],
    ['/objects/b/lnk', TYPE_OBJECT, ax, false],
    ['/objects/b/al', TYPE_OBJECT, ax, false],
    ['/objects/b/type', TYPE_OBJECT, null, false],
    // partial paths
    ['objects', TYPE_OBJECT, objects, false],
    ['x', TYPE_OBJECT, null, true],
    ['x', 'pt-other', null, false],
    ['a/x', TYPE_OBJECT, ax, false],
    ['b/x', TYPE_OBJECT, bx, false],
    ['y', TYPE_OBJECT, by, false],
    ['y', 'pt-leaf', null, false],
    ['objects/b/y', TYPE_OBJECT, by, false],
    ['nope', TYPE_OBJECT, null, false],
    ['', 'pt-other', by, false],
    ['', 'pt-leaf', null, true],
    ['', TYPE_OBJECT, null, true],
    ['', 'no-such-type', null, false],
    // partial paths follow links and aliases in their components
    ['lnk', TYPE_OBJECT, ax, false],
    ['b/al', 'pt-leaf', ax, false],
  ];
  for (const [path, type, obj, ambiguous] of rows) {
    const r = objectResolvePathType(path, type);
    t.is(r.obj, obj, `${JSON.stringify(path)} as ${type}`);
    t.is(r.ambiguous, ambiguous, `${JSON.stringify(path)} as ${type}: ambiguous`);
  }
  t.deepEqual(objectResolvePath('y'), { obj: by, ambiguous: false });
  t.deepEqual(objectResolvePath('x'), { obj: null, ambiguous: true });
  t.deepEqual(objectResolvePath('y', 'pt-other'), { obj: by, ambiguous: false });
});

test('resolution relative to an object', (t) => {
  t.is(objectResolvePathAt(b, 'x'), bx);
  t.is(objectResolvePathAt(b, 'lnk'), ax);
  t.is(objectResolvePathAt(b, '/objects/a'), a);
  t.is(objectResolvePathAt(b, 'nope'), null);
  t.is(objectResolvePathAt(b, 'y/..'), null, 'no dot-dot');
  t.is(objectResolvePathAt(b, ''), b);
  t.is(objectResolvePathAt(objects, 'a/x'), ax);
  t.is(objectResolvePathAt(a, 'y'), null, 'no partial search');
  t.is(b.resolvePathComponent('x'), bx);
  t.is(b.resolvePathComponent('type'), null, 'plain properties do not resolve');
  t.is(b.resolvePathComponent('missing'), null);
});

test('the unique object of a type', (t) => {
  t.is(objectResolveTypeUnambiguous('pt-other'), by);
  const e1 = t.throws<QomError>(() => objectResolveTypeUnambiguous('pt-leaf'));
  t.is(e1?.message, 'More than one object of type pt-leaf');
  const e2 = t.throws<QomError>(() => objectResolveTypeUnambiguous('pt-none'));
  t.is(e2?.message, 'No object found of type pt-none');
});

test('child iteration', (t) => {
  const seen: string[] = [];
  t.is(
    b.childForeach((c) => {
      seen.push(c.canonicalPathComponent()!);
    }),
    0,
  );
  t.deepEqual(seen, ['x', 'y'], 'children only, not links or aliases');
  t.is(
    b.childForeach((c) => (c === bx ? 7 : 0)),
    7,
    'stops at the first non-zero result',
  );
  const all: string[] = [];
  objects.childForeachRecursive((c) => {
    all.push(c.canonicalPath()!);
  });
  t.deepEqual(all, ['/objects/a', '/objects/a/x', '/objects/b', '/objects/b/x', '/objects/b/y']);
  let n = 0;
  t.is(
    objects.childForeachRecursive(() => (++n === 3 ? 42 : 0)),
    42,
  );
  t.is(n, 3);
  t.deepEqual([...a.children()], [ax]);
});

test('containerGet creates the missing containers', (t) => {
  const root = objectGetRoot();
  const p = containerGet(root, 'machine/peripheral');
  t.is(p.canonicalPath(), '/machine/peripheral');
  t.is(containerGet(root, '/machine/peripheral'), p);
  t.is(containerGet(root, 'machine'), p.parent!);
  t.is(objectResolvePath('/machine/peripheral').obj, p);
  p.parent!.unparent();
  t.true(p.finalized);
});
