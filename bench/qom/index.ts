/**
 * QOM object churn: create an object, give it three properties, release
 * it; tsqom against a plain JS class doing the same work (named setters
 * with type and range checks, then a dispose step), in the same run.
 * Goal: the framework costs at most 3x the plain class.
 */
import { type BenchRow, median, opsPerSecond } from '../harness.js';
import {
  type ObjectClass,
  QomError,
  QomObject,
  TYPE_OBJECT,
  objectNew,
  typeRegister,
  objectCheck,
} from '../../src/qom/index.js';

class BenchObj extends QomObject {
  merge = false;
  threads = 0;
  name = '';
}

typeRegister<ObjectClass, BenchObj>({
  name: 'bench-obj',
  parent: TYPE_OBJECT,
  instanceType: BenchObj,
  classInit(oc) {
    const props = oc.propertiesOf(BenchObj);
    props.propertyAddBool(
      'merge',
      (o) => o.merge,
      (o, v) => {
        o.merge = v;
      },
    );
    props.propertyAddUint32(
      'threads',
      (o) => o.threads,
      (o, v) => {
        o.threads = v;
      },
    );
    props.propertyAddStr(
      'name',
      (o) => o.name,
      (o, v) => {
        o.name = v;
      },
    );
  },
});

// The plain class: the same three named, validated properties.
class Plain {
  merge = false;
  threads = 0;
  name = '';
  disposed = false;
  static readonly setters = new Map<string, (o: Plain, v: unknown) => void>([
    [
      'merge',
      (o, v) => {
        if (typeof v !== 'boolean')
          throw new Error("Invalid parameter type for 'merge', expected: boolean");
        o.merge = v;
      },
    ],
    [
      'threads',
      (o, v) => {
        if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffffffff) {
          throw new Error("Parameter 'threads' expects uint32_t");
        }
        o.threads = v;
      },
    ],
    [
      'name',
      (o, v) => {
        if (typeof v !== 'string')
          throw new Error("Invalid parameter type for 'name', expected: string");
        o.name = v;
      },
    ],
  ]);
  set(name: string, v: unknown): void {
    const s = Plain.setters.get(name);
    if (!s) throw new Error(`Property 'plain.${name}' not found`);
    s(this, v);
  }
  dispose(): void {
    this.disposed = true;
  }
}

let sink = 0;

function qomJson(): void {
  const o = objectCheck(objectNew('bench-obj'), BenchObj);
  o.propertySet('merge', true);
  o.propertySet('threads', 4);
  o.propertySet('name', 'ram0');
  sink += o.threads;
  o.unref();
}

function qomTyped(): void {
  const o = objectCheck(objectNew('bench-obj'), BenchObj);
  o.propertySetBool('merge', true);
  o.propertySetUint('threads', 4n);
  o.propertySetStr('name', 'ram0');
  sink += o.threads;
  o.unref();
}

function qomParse(): void {
  const o = objectCheck(objectNew('bench-obj'), BenchObj);
  o.propertyParse('merge', 'on');
  o.propertyParse('threads', '4');
  o.propertyParse('name', 'ram0');
  sink += o.threads;
  o.unref();
}

function plain(): void {
  const o = new Plain();
  o.set('merge', true);
  o.set('threads', 4);
  o.set('name', 'ram0');
  sink += o.threads;
  o.dispose();
}

/** Runs the benchmark. */
export async function run(): Promise<BenchRow[]> {
  // Warm up all three paths so the JIT has seen them before timing.
  for (let i = 0; i < 20000; i++) {
    qomJson();
    qomTyped();
    qomParse();
    plain();
  }
  const rounds = 5;
  const a: number[] = [];
  const b: number[] = [];
  const c: number[] = [];
  const d: number[] = [];
  for (let r = 0; r < rounds; r++) {
    a.push(opsPerSecond(qomJson, 200));
    b.push(opsPerSecond(qomTyped, 200));
    d.push(opsPerSecond(qomParse, 200));
    c.push(opsPerSecond(plain, 200));
  }
  if (sink < 0) throw new QomError('unreachable');
  const json = median(a);
  const typed = median(b);
  const ref = median(c);
  const row = (metric: string, value: number): BenchRow => ({
    bench: 'qom',
    metric,
    value,
    unit: 'ops/s',
    reference: ref,
    referenceName: 'plain JS class',
    ratio: ref / value,
    goal: 'ratio <= 3',
    met: ref / value <= 3,
  });
  const parse = median(d);
  return [
    row('create+3 props (propertySet)+release', json),
    row('create+3 props (typed setters)+release', typed),
    // The command-line path (string input visitor); no goal, shown for scale.
    {
      bench: 'qom',
      metric: 'create+3 props (propertyParse)+release',
      value: parse,
      unit: 'ops/s',
      reference: ref,
      referenceName: 'plain JS class',
      ratio: ref / parse,
    },
  ];
}
