// link<T>, child<T> and alias properties (qom/object.c).
import test from 'ava';
import {
  type ObjectClass,
  QomError,
  QomObject,
  TYPE_CONTAINER,
  TYPE_OBJECT,
  objectGetObjectsRoot,
  objectNew,
  objectPropertyAddNewContainer,
  objectPropertyAllowSetLink,
  objectResolvePath,
  typeRegister,
  objectCheck,
} from '../../src/qom/index.js';

typeRegister({ name: 'link-target', parent: TYPE_OBJECT });
typeRegister({ name: 'link-target-sub', parent: 'link-target' });
typeRegister({ name: 'link-other', parent: TYPE_OBJECT });

class Holder extends QomObject {
  strong: QomObject | null = null;
  weak: QomObject | null = null;
  checked: QomObject | null = null;
  classLink: QomObject | null = null;
  refuse = false;
}
typeRegister<ObjectClass, Holder>({
  name: 'link-holder',
  parent: TYPE_OBJECT,
  instanceType: Holder,
  classInit(oc) {
    const props = oc.propertiesOf(Holder);
    props.propertyAddLink(
      'class-link',
      'link-target',
      (o) => o.classLink,
      (o, t) => {
        o.classLink = t;
      },
      { check: objectPropertyAllowSetLink, strong: true },
    );
  },
  instanceInit(o) {
    o.propertyAddLink(
      'strong',
      'link-target',
      () => o.strong,
      (t) => {
        o.strong = t;
      },
      { check: objectPropertyAllowSetLink, strong: true },
    );
    o.propertyAddLink(
      'weak',
      'link-target',
      () => o.weak,
      (t) => {
        o.weak = t;
      },
      { check: objectPropertyAllowSetLink },
    );
    o.propertyAddLink(
      'checked',
      'link-target',
      () => o.checked,
      (t) => {
        o.checked = t;
      },
      {
        check: (obj, name, target) => {
          if (obj.refuse)
            throw new QomError(`refusing ${name} -> ${target?.canonicalPath() ?? 'null'}`);
        },
      },
    );
    o.propertyAddLink('readonly', 'link-target', () => o.weak, null);
  },
});

// A tree under /objects: t1 (link-target), sub (link-target-sub), o1
// (link-other), and two link-target objects both named "dup".
function setup(): {
  holder: Holder;
  t1: QomObject;
  sub: QomObject;
  o1: QomObject;
  cleanup(): void;
} {
  const root = objectGetObjectsRoot();
  const cont = objectPropertyAddNewContainer(root, 'linktree');
  const add = (parent: QomObject, name: string, type: string): QomObject => {
    const o = objectNew(type);
    parent.propertyAddChild(name, o);
    o.unref();
    return o;
  };
  const t1 = add(cont, 't1', 'link-target');
  const sub = add(cont, 'sub', 'link-target-sub');
  const o1 = add(cont, 'o1', 'link-other');
  add(cont, 'dup', 'link-target');
  add(add(cont, 'deeper', TYPE_CONTAINER), 'dup', 'link-target');
  const holder = objectCheck(objectNew('link-holder'), Holder);
  cont.propertyAddChild('holder', holder);
  holder.unref();
  return { holder, t1, sub, o1, cleanup: () => cont.unparent() };
}

test.serial('strong and weak links: paths, refcounts, clearing, release', (t) => {
  const { holder, t1, sub, cleanup } = setup();
  t.is(holder.propertyGetType('strong'), 'link<link-target>');
  t.is(holder.propertyGet('strong'), '');
  t.is(t1.refcount, 1);

  holder.propertySet('strong', '/objects/linktree/t1');
  t.is(holder.strong, t1);
  t.is(t1.refcount, 2, 'strong link holds a reference');
  t.is(holder.propertyGet('strong'), '/objects/linktree/t1');

  holder.propertySet('strong', '/objects/linktree/sub');
  t.is(holder.strong, sub, 'a subtype is accepted');
  t.is(t1.refcount, 1, 'old target released');
  t.is(sub.refcount, 2);

  holder.propertySet('strong', '');
  t.is(holder.strong, null);
  t.is(sub.refcount, 1);

  holder.propertySet('weak', '/objects/linktree/t1');
  t.is(holder.weak, t1);
  t.is(t1.refcount, 1, 'weak link takes no reference');
  t.is(holder.propertyGet('readonly'), '/objects/linktree/t1');
  t.throws(() => holder.propertySet('readonly', ''), {
    message: "Property 'link-holder.readonly' is not writable",
  });

  // Partial paths work for links too.
  holder.propertySet('strong', 't1');
  t.is(holder.strong, t1);
  t.is(t1.refcount, 2);
  // Resolution goes through links.
  t.is(objectResolvePath('/objects/linktree/holder/strong').obj, t1);
  t.is(holder.resolvePathComponent('weak'), t1);

  // Typed accessors.
  t.is(holder.propertyGetLink('strong'), t1);
  holder.propertySetLink('strong', sub);
  t.is(holder.strong, sub);
  holder.propertySetLink('strong', null);
  t.is(holder.strong, null);
  t.is(holder.propertyGetLink('strong'), null);
  holder.propertySetLink('strong', t1);

  // Finalizing the holder releases the strong link.
  cleanup();
  t.true(holder.finalized);
  t.true(t1.finalized, 'the strong link’s reference was dropped');
});

test.serial('link errors: wrong type, not found, ambiguous, check hook', (t) => {
  const { holder, t1, cleanup } = setup();
  const e1 = t.throws<QomError>(() => holder.propertySet('strong', '/objects/linktree/o1'));
  t.is(e1?.message, "Invalid parameter type for 'strong', expected: link-target");
  t.is(e1?.errorClass, 'GenericError');

  const e2 = t.throws<QomError>(() => holder.propertySet('strong', '/objects/linktree/nope'));
  t.is(e2?.message, "Device '/objects/linktree/nope' not found");
  t.is(e2?.errorClass, 'DeviceNotFound');

  const e3 = t.throws<QomError>(() => holder.propertySet('strong', 'dup'));
  t.is(e3?.message, "Path 'dup' does not uniquely identify an object");

  // A partial path that names an object of another type.
  const e4 = t.throws<QomError>(() => holder.propertySet('strong', 'o1'));
  t.is(e4?.message, "Invalid parameter type for 'strong', expected: link-target");

  t.throws(() => holder.propertySet('strong', 5), {
    message: "Invalid parameter type for 'strong', expected: string",
  });

  holder.refuse = true;
  t.throws(() => holder.propertySet('checked', '/objects/linktree/t1'), {
    message: 'refusing checked -> /objects/linktree/t1',
  });
  t.is(holder.checked, null, 'refused: unchanged');
  t.is(t1.refcount, 1);
  holder.refuse = false;
  holder.propertySet('checked', '/objects/linktree/t1');
  t.is(holder.checked, t1);
  t.is(t1.refcount, 1, 'checked link is weak');

  holder.propertySet('strong', '/objects/linktree/t1');
  t.throws(() => holder.propertySet('strong', '/nope'), { message: "Device '/nope' not found" });
  t.is(holder.strong, t1, 'a failed set leaves the link alone');
  t.is(t1.refcount, 2);
  holder.propertySet('strong', '');
  t.throws(() => holder.propertyGetLink('nonexistent'), {
    message: "Property 'link-holder.nonexistent' not found",
  });
  cleanup();
});

test.serial('class link properties keep per-object targets and release strong ones', (t) => {
  const { holder, t1, cleanup } = setup();
  const other = objectCheck(objectNew('link-holder'), Holder);
  holder.propertySet('class-link', '/objects/linktree/t1');
  other.propertySet('class-link', '/objects/linktree/t1');
  t.is(holder.classLink, t1);
  t.is(other.classLink, t1);
  t.is(t1.refcount, 3);
  other.unref();
  t.is(t1.refcount, 2, 'finalizing releases class strong links');
  t.is(holder.propertyGetType('class-link'), 'link<link-target>');
  cleanup();
  t.true(t1.finalized);
});

test.serial('const links', (t) => {
  const { holder, t1, cleanup } = setup();
  holder.propertyAddConstLink('const', t1);
  t.is(holder.propertyGetType('const'), 'link<link-target>');
  t.is(holder.propertyGet('const'), '/objects/linktree/t1');
  t.is(holder.resolvePathComponent('const'), t1);
  t.throws(() => holder.propertySet('const', ''), {
    message: "Property 'link-holder.const' is not writable",
  });
  cleanup();
});

test.serial('child properties', (t) => {
  const p = objectNew(TYPE_CONTAINER);
  const c = objectNew('link-target');
  const op = p.propertyAddChild('kid', c);
  t.is(op.type, 'child<link-target>');
  t.true(op.isChild);
  t.is(c.parent, p);
  t.is(c.canonicalPathComponent(), 'kid');
  t.is(c.canonicalPath(), null, 'the parent is detached');
  t.is(p.propertyGet('kid'), '', 'a detached child’s path reads as empty');
  t.throws(() => p.propertySet('kid', ''), { message: "Property 'container.kid' is not writable" });
  const p2 = objectNew(TYPE_CONTAINER);
  t.throws(() => p2.propertyAddChild('kid', c), {
    message: "object of type 'link-target' already has a parent",
  });
  const c2 = objectNew(TYPE_CONTAINER);
  t.throws(() => p.propertyAddChild('kid', c2), {
    message: "attempt to add duplicate property 'kid' to object (type 'container')",
  });
  t.is(c2.refcount, 1, 'a failed add takes no reference');
  t.is(c2.parent, null);
  c2.unref();
  objectGetObjectsRoot().propertyAddChild('p', p);
  t.is(p.propertyGet('kid'), '/objects/p/kid');
  t.is(c.canonicalPath(), '/objects/p/kid');
  c.unref();
  p.unref();
  p2.unref();
  p.unparent();
  t.true(p.finalized && c.finalized);
});

test.serial('aliases forward get/set, type, default and description', (t) => {
  const { holder, t1, cleanup } = setup();
  class Tgt extends QomObject {
    flag = false;
  }
  typeRegister<ObjectClass, Tgt>({
    name: 'alias-target',
    parent: TYPE_OBJECT,
    instanceType: Tgt,
    classInit(oc) {
      const props = oc.propertiesOf(Tgt);
      props.propertyAddBool(
        'flag',
        (o) => o.flag,
        (o, v) => {
          o.flag = v;
        },
      );
      oc.propertySetDescription('flag', 'The flag');
      oc.propertySetDefault('flag', true);
      props.propertyAddEnum('animal', { name: 'Animal', values: ['cat', 'dog'] }, () => 1);
    },
  });
  const tgt = objectCheck(objectNew('alias-target'), Tgt);
  t.true(tgt.flag, 'default applied');
  const host = objectNew(TYPE_CONTAINER);
  const ap = host.propertyAddAlias('alias-flag', tgt, 'flag');
  t.is(ap.type, 'bool');
  t.is(ap.description, 'The flag');
  t.is(ap.defval, true);
  host.propertySet('alias-flag', false);
  t.false(tgt.flag);
  host.propertyParse('alias-flag', 'on');
  t.true(tgt.flag);
  t.is(host.propertyGet('alias-flag'), true);
  t.throws(() => host.propertySet('alias-flag', 'yes'), {
    message: "Invalid parameter type for 'alias-flag', expected: boolean",
  });
  host.propertyAddAlias('alias-animal', tgt, 'animal');
  t.is(host.propertyGetEnum('alias-animal', 'Animal'), 1);
  t.throws(() => host.propertySet('alias-animal', 'cat'), {
    message: "Property 'alias-target.animal' is not writable",
  });
  t.throws(() => host.propertyAddAlias('nope', tgt, 'missing'), {
    message: "Property 'alias-target.missing' not found",
  });

  // Alias to a child is a link, and resolves through.
  const kidAlias = host.propertyAddAlias(
    't1-alias',
    objectGetObjectsRoot().resolvePathComponent('linktree')!,
    't1',
  );
  t.is(kidAlias.type, 'link<link-target>');
  t.is(host.resolvePathComponent('t1-alias'), t1);
  // Alias to a link: set through the alias.
  host.propertyAddAlias('strong-alias', holder, 'strong');
  host.propertySet('strong-alias', '/objects/linktree/t1');
  t.is(holder.strong, t1);
  t.throws(() => host.propertySet('strong-alias', '/objects/linktree/o1'), {
    message: "Invalid parameter type for 'strong', expected: link-target",
  });
  t.is(host.resolvePathComponent('strong-alias'), t1);
  host.unref();
  tgt.unref();
  cleanup();
});
