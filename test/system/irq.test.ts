import test from 'ava';
import {
  machineIrqSet,
  machineIrqPulse,
  machineIrqLevel,
  machineIrqListen,
} from '../../src/system/irq.js';

test('listeners hear level changes only, and stop hearing once removed', (t) => {
  const heard: Array<[number, number]> = [];
  const off = machineIrqListen((n, l) => heard.push([n, l]));
  machineIrqSet(5, 1);
  machineIrqSet(5, 1);
  t.is(machineIrqLevel(5), 1);
  machineIrqSet(5, 0);
  machineIrqPulse(7);
  off();
  machineIrqPulse(7);
  t.deepEqual(heard, [
    [5, 1],
    [5, 0],
    [7, 1],
    [7, 0],
  ]);
  t.is(machineIrqLevel(7), 0);
});
