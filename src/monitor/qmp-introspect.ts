/**
 * `query-qmp-schema` (QEMU's qapi/introspect.py and qmp_query_qmp_schema):
 * the commands tsqom serves and the events it sends, then every type they
 * use, in the order QEMU's generator visits them. Type names are masked
 * as QEMU masks them: numbered in order of first use, builtins by name,
 * arrays as `[N]`. Only commands that are registered and enabled appear,
 * so the schema describes exactly what this process answers.
 * @module
 */
import type { JsonObject, JsonValue } from '../qobject/qobject.js';
import { type SchemaEntry, SCHEMA_ENTITIES, SCHEMA_TYPES } from './qmp-schema-data.js';
import { type QmpCommandLookup, type QmpCommandRegistry, qmpCommands } from './qmp-dispatch.js';

/** The JSON type of each QAPI builtin, as introspection reports it. */
const BUILTIN_JSON_TYPES: Readonly<Record<string, string>> = {
  str: 'string',
  any: 'value',
  bool: 'boolean',
  int: 'int',
  null: 'null',
  number: 'number',
  QType: 'string',
};

/** The events tsqom sends (those of the schema it can emit). */
export const TSQOM_EVENTS: ReadonlySet<string> = new Set([
  'SHUTDOWN',
  'POWERDOWN',
  'RESET',
  'STOP',
  'RESUME',
  'DEVICE_DELETED',
]);

const typesByName = new Map<string, SchemaEntry>(SCHEMA_TYPES.map((t) => [t.name, t]));

/** Walks the schema as introspect.py does, numbering types on first use. */
class Introspector {
  private readonly numbers = new Map<string, string>();
  private readonly used: string[] = [];
  private readonly usedSet = new Set<string>();
  readonly out: JsonObject[] = [];

  private use(ref: string): string {
    if (!this.usedSet.has(ref)) {
      this.usedSet.add(ref);
      this.used.push(ref);
    }
    if (ref in BUILTIN_JSON_TYPES) return ref;
    if (ref.startsWith('[')) return `[${this.use(ref.slice(1, -1))}]`;
    let n = this.numbers.get(ref);
    if (n === undefined) {
      n = String(this.numbers.size);
      this.numbers.set(ref, n);
    }
    return n;
  }

  entity(e: SchemaEntry): void {
    const o: JsonObject = { name: e.name, 'meta-type': e['meta-type'] };
    o['arg-type'] = this.use(e['arg-type'] as string);
    if (e['meta-type'] === 'command') {
      o['ret-type'] = this.use(e['ret-type'] as string);
      if (e['allow-oob'] === true) o['allow-oob'] = true;
    }
    if (Array.isArray(e.features)) o.features = [...(e.features as string[])];
    this.out.push(o);
  }

  private type(ref: string): JsonObject {
    if (ref in BUILTIN_JSON_TYPES)
      return { name: ref, 'meta-type': 'builtin', 'json-type': BUILTIN_JSON_TYPES[ref] };
    if (ref.startsWith('[')) {
      const element = this.use(ref.slice(1, -1));
      return { name: `[${element}]`, 'meta-type': 'array', 'element-type': element };
    }
    const t = typesByName.get(ref);
    if (!t) throw new Error(`schema type '${ref}' is not defined`);
    const o: JsonObject = { name: this.use(ref), 'meta-type': t['meta-type'] };
    switch (t['meta-type']) {
      case 'object': {
        o.members = (t.members as JsonObject[]).map((m) => {
          const mm: JsonObject = { name: m.name as string };
          if ('default' in m) mm.default = m.default as JsonValue;
          mm.type = this.use(m.type as string);
          if (Array.isArray(m.features)) mm.features = [...(m.features as string[])];
          return mm;
        });
        if (typeof t.tag === 'string') {
          o.tag = t.tag;
          o.variants = (t.variants as JsonObject[]).map((v) => ({
            case: v.case as string,
            type: this.use(v.type as string),
          }));
        }
        break;
      }
      case 'enum':
        o.members = (t.members as JsonObject[]).map((m) => ({ ...m }));
        if (Array.isArray(t.values)) o.values = [...(t.values as string[])];
        break;
      case 'alternate':
        o.members = (t.members as JsonObject[]).map((m) => ({ type: this.use(m.type as string) }));
        break;
    }
    if (Array.isArray(t.features)) o.features = [...(t.features as string[])];
    return o;
  }

  /** visit_end(): every used type, including those used while emitting types. */
  finish(): void {
    for (let i = 0; i < this.used.length; i++) this.out.push(this.type(this.used[i]));
  }
}

/** `qmp_query_qmp_schema` for the commands in `registry` and tsqom's events. */
export function qmpQuerySchema(registry: QmpCommandLookup = qmpCommands): JsonObject[] {
  const v = new Introspector();
  for (const e of SCHEMA_ENTITIES) {
    if (e['meta-type'] === 'command') {
      const c = registry.find(e.name);
      if (!c || c.enabled === false) continue;
    } else if (!TSQOM_EVENTS.has(e.name)) continue;
    v.entity(e);
  }
  v.finish();
  return v.out;
}

/** Registers `query-qmp-schema` in `registry`. */
export function registerIntrospectCommands(registry: QmpCommandRegistry = qmpCommands): void {
  registry.register({
    name: 'query-qmp-schema',
    allowPreconfig: true,
    handler: (_a, { monitor }) => qmpQuerySchema(monitor.registry),
  });
}
