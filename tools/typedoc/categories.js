// A local TypeDoc plugin: every top-level symbol without an explicit
// `@category` is filed under its subsystem's category, chosen by the
// source file that declares it, so each module page lists its symbols in
// groups instead of one flat list. The prelude's re-exports take their
// target's category.
import path from 'node:path';
import { Comment, CommentTag, Converter, ReferenceReflection, ReflectionKind } from 'typedoc';

/** Source files (relative to src/, without extension; a trailing `/` matches a folder) and their category. */
const CATEGORIES = [
  ['qom/object', 'Objects'],
  ['qom/decorator', 'Objects'],
  ['qom/owned', 'Objects'],
  ['qom/container', 'Objects'],
  ['qom/object_interfaces', 'User-creatable objects'],
  ['util/error', 'Errors'],
  ['util/qemu-option', 'Options'],
  ['util/', 'Utilities'],
  ['qobject/', 'JSON values'],
  ['qapi/keyval', 'Options'],
  ['qapi/', 'QAPI'],
  ['system/memory', 'Memory regions'],
  ['system/subregion-list', 'Memory regions'],
  ['system/mtree', 'info mtree'],
  ['system/ioport', 'I/O and interrupts'],
  ['system/irq', 'I/O and interrupts'],
  ['system/', 'Address spaces'],
  ['backends/thread-context', 'Thread context'],
  ['backends/qapi', 'QAPI schemas'],
  ['backends/', 'Memory backends'],
  ['chardev/', 'Character devices'],
  ['hw/core/machine', 'Machine'],
  ['hw/core/machine-memory', 'Machine'],
  ['hw/core/qdev-monitor', 'Device options and commands'],
  ['hw/core/', 'Devices'],
  ['hw/virtio/standard-headers', 'VIRTIO constants'],
  ['hw/virtio/virtqueue', 'Virtqueues'],
  ['hw/virtio/guest-memory', 'Guest memory'],
  ['hw/virtio/guest-memory-mmap', 'Guest memory'],
  ['hw/virtio/virtio-shmem', 'Shared memory regions'],
  ['hw/virtio/virtio-shmem-index', 'Shared memory regions'],
  ['hw/virtio/vhost-user/protocol/', 'Protocol'],
  ['hw/virtio/vhost-user/backend/', 'Back-end library'],
  ['hw/virtio/vhost-user/frontend/', 'Front-end'],
  ['hw/virtio/driver/', 'Guest driver'],
  ['hw/virtio/', 'VIRTIO devices'],
  ['io/', 'Unix streams'],
  ['hw/misc/vdev-shmem-rules', 'Rules'],
  ['hw/misc/vdev-shmem-config', 'Configuration'],
  ['hw/misc/guest-shm', 'Guest interface'],
  ['hw/misc/', 'Device'],
  ['monitor/qmp-server', 'Server'],
  ['monitor/qmp-client', 'Client'],
  ['monitor/qmp-dispatch', 'Dispatch'],
  ['monitor/hmp', 'Human monitor'],
  ['monitor/qom-hmp-cmds', 'Human monitor'],
  ['monitor/qtest', 'qtest'],
  ['monitor/', 'Commands'],
  ['cli/options', 'Options'],
  ['cli/', 'Program'],
  ['native/constants', 'Linux constants'],
  ['native/errors', 'Errors'],
  ['native/host', 'Host OS'],
  ['native/mapping', 'Mapped memory'],
  ['native/', 'Native addon'],
];

function categoryOf(fileName) {
  const srcAt = fileName.lastIndexOf(`${path.sep}src${path.sep}`);
  if (srcAt < 0) return undefined;
  const rel = fileName
    .slice(srcAt + 5)
    .replace(/\.(d\.)?ts$/, '')
    .split(path.sep)
    .join('/');
  for (const [key, category] of CATEGORIES) {
    if (key.endsWith('/') ? rel.startsWith(key) : rel === key) return category;
  }
  return undefined;
}

function addCategory(reflection, category) {
  reflection.comment ??= new Comment();
  if (reflection.comment.getTag('@category')) return;
  reflection.comment.blockTags.push(
    new CommentTag('@category', [{ kind: 'text', text: category }]),
  );
}

/** TypeDoc's plugin hook. */
export function load(app) {
  app.converter.on(Converter.EVENT_CREATE_DECLARATION, (context, reflection) => {
    if (!reflection.parent?.kindOf(ReflectionKind.SomeModule | ReflectionKind.Project)) return;
    const decl = context.getSymbolFromReflection(reflection)?.declarations?.[0];
    const category = decl ? categoryOf(decl.getSourceFile().fileName) : undefined;
    if (category) addCategory(reflection, category);
  });
  app.converter.on(Converter.EVENT_RESOLVE_BEGIN, (context) => {
    for (const reflection of Object.values(context.project.reflections)) {
      if (!(reflection instanceof ReferenceReflection)) continue;
      const tag = reflection.tryGetTargetReflectionDeep()?.comment?.getTag('@category');
      if (tag) addCategory(reflection, tag.content.map((p) => p.text).join(''));
    }
  });
}
