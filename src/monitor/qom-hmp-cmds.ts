/**
 * HMP commands for the object model (qom/qom-hmp-cmds.c,
 * monitor/hmp-cmds.c): `qom-list`, `qom-get`, `qom-set`, `object_add`,
 * `object_del` and `info qom-tree`, with QEMU 7.2's output.
 * @module
 */
import { QomError } from '../util/error.js';
import { type QomObject, objectGetRoot, objectResolvePath } from '../qom/object.js';
import {
  typeClassPropertiesHelp,
  userCreatableDel,
  userCreatableTypesHelp,
} from '../qom/object_interfaces.js';
import { type HmpOutput, registerHmpCommand, registerHmpInfoCommand } from './hmp.js';
import { qobjectFromJson, qobjectFromJsonMarked } from '../qobject/json-parser.js';
import { qobjectToJson } from '../qobject/qjson.js';
import { keyvalParse } from '../qapi/keyval.js';
import { objectAdd, qmpQomGet, qmpQomList, qmpQomSet } from './qom-qmp-cmds.js';

/** `print_qom_composition()`: the tree below `obj`, children sorted by name. */
export function qomCompositionTree(obj: QomObject, indent = 0): string {
  let out = '';
  const walk = (o: QomObject, depth: number): void => {
    const name = o === objectGetRoot() ? '' : (o.canonicalPathComponent() ?? '');
    out += `${' '.repeat(depth)}/${name} (${o.typeName})\n`;
    const children: Array<{ name: string; obj: QomObject }> = [];
    o.childForeach((c) => {
      children.push({ name: c.canonicalPathComponent() ?? '', obj: c });
    });
    children.sort((a, b) => byteCompare(a.name, b.name));
    for (const c of children) walk(c.obj, depth + 2);
  };
  walk(obj, indent);
  return out;
}

/** `strcmp()` order on UTF-8 bytes. */
function byteCompare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/**
 * `user_creatable_add_from_str()`: JSON if it starts with `{`, else keyval
 * with implied `qom-type`. A help request prints the type list or the
 * type's options through `print` and creates nothing.
 */
export async function objectAddFromStr(
  str: string,
  print: (text: string) => void = () => {},
): Promise<void> {
  if (str.startsWith('{')) {
    const v = qobjectFromJson(str);
    if (v === null || typeof v !== 'object' || Array.isArray(v)) {
      throw new QomError("Invalid parameter type for '<anonymous>', expected: object");
    }
    await objectAdd(v);
    return;
  }
  const { dict, help } = keyvalParse(str, 'qom-type');
  if (help) {
    const type = dict['qom-type'];
    const text = typeof type === 'string' ? typeClassPropertiesHelp(type) : null;
    print(text ?? userCreatableTypesHelp());
    return;
  }
  await objectAdd(dict, true);
}

function hmpInfoQomTree(path: string | undefined, out: HmpOutput): void {
  let obj: QomObject | null;
  if (path !== undefined) {
    const r = objectResolvePath(path);
    obj = r.obj;
    if (!obj) {
      out.print(`Path '${path}' could not be resolved.\n`);
      return;
    }
    if (r.ambiguous) {
      out.print(`Warning: Path '${path}' is ambiguous.\n`);
      return;
    }
  } else {
    // QEMU starts at the machine; tsqom may have none.
    obj = objectGetRoot().resolvePathComponent('machine') ?? objectGetRoot();
  }
  out.print(qomCompositionTree(obj));
}

registerHmpCommand({
  name: 'qom-list',
  argsType: 'path:s?',
  params: 'path',
  help: 'list QOM properties',
  handler(args, out) {
    const path = args.path as string | undefined;
    if (path === undefined) {
      out.print('/\n');
      return;
    }
    for (const p of qmpQomList(path)) out.print(`${p.name as string} (${p.type as string})\n`);
  },
});

registerHmpCommand({
  name: 'qom-get',
  argsType: 'path:s,property:s',
  params: 'path property',
  help: 'print QOM property',
  handler(args, out) {
    const v = qmpQomGet(args.path as string, args.property as string);
    out.print(qobjectToJson(v, true) + '\n');
  },
});

registerHmpCommand({
  name: 'qom-set',
  argsType: 'json:-j,path:s,property:s,value:S',
  params: '[-j] path property value',
  help: 'set QOM property.\n\t\t\t-j: the value is specified in json format.',
  handler(args) {
    const path = args.path as string;
    const property = args.property as string;
    const value = args.value as string;
    if (!args.json) {
      const r = objectResolvePath(path);
      if (!r.obj) throw new QomError(`Device '${path}' not found`, 'DeviceNotFound');
      r.obj.propertyParse(property, value);
      return;
    }
    const parsed = qobjectFromJsonMarked(value);
    qmpQomSet(path, property, parsed.value, parsed.isFloat);
  },
});

registerHmpCommand({
  name: 'object_add',
  argsType: 'object:S',
  params: '[qom-type=]type,id=str[,prop=value][,...]',
  help: 'create QOM object',
  async handler(args, out) {
    await objectAddFromStr(args.object as string, (text) => out.print(text));
  },
});

registerHmpCommand({
  name: 'object_del',
  argsType: 'id:s',
  params: 'id',
  help: 'destroy QOM object',
  handler(args) {
    userCreatableDel(args.id as string);
  },
});

registerHmpInfoCommand({
  name: 'qom-tree',
  argsType: 'path:s?',
  params: '[path]',
  help: 'show QOM composition tree',
  handler(args, out) {
    hmpInfoQomTree(args.path as string | undefined, out);
  },
});
