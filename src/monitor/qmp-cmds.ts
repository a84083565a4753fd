/**
 * Registers every command tsqom serves that lives outside the monitor's
 * own modules: `query-memdev`, `info memdev`, `info mtree`, `device_add` and
 * `device_del`, and the QAPI
 * `ObjectOptions` members of each memory backend type (so `object-add` and
 * `-object` check them as QEMU's schema does). Imported for its effect by
 * the QMP server.
 * @module
 */
import { BACKEND_OBJECT_OPTIONS } from '../backends/qapi.js';
import { registerObjectOptions } from './qom-qmp-cmds.js';
import { registerMachineQmpCommands } from './machine-qmp-cmds.js';
import { registerHmpInfoCommand } from './hmp.js';
import { mtreeInfo } from '../system/memory.js';
import { registerQdevQmpCommands } from '../hw/core/qdev-monitor.js';
import { qmpCommands } from './qmp-dispatch.js';
import { registerMiscCommands } from './qmp-cmds-misc.js';
import { registerIntrospectCommands } from './qmp-introspect.js';
import { registerFdCommands } from './fds.js';
import { registerCharCommands } from './char-cmds.js';
import { registerMachineInfoCommands } from './machine-info-cmds.js';

for (const [qomType, members] of Object.entries(BACKEND_OBJECT_OPTIONS))
  registerObjectOptions(qomType, members);
registerMachineQmpCommands();
registerQdevQmpCommands((c) => qmpCommands.register(c));

registerHmpInfoCommand({
  name: 'mtree',
  argsType: 'flatview:-f,dispatch_tree:-d,owner:-o,disabled:-D',
  params: '[-f][-d][-o][-D]',
  help:
    'show memory tree (-f: dump flat view for address spaces;' +
    '-d: dump dispatch tree, valid with -f only);' +
    '-o: dump region owners/parents;' +
    '-D: dump disabled regions',
  handler: (args, out) =>
    out.print(
      mtreeInfo({ flatview: !!args.flatview, owner: !!args.owner, disabled: !!args.disabled }),
    ),
});

registerMiscCommands();
registerCharCommands();
registerMachineInfoCommands();
registerFdCommands();
registerIntrospectCommands();
