/**
 * HMP `help` and `help info`, differential against QEMU 7.2: every line
 * tsqom prints is QEMU's line for that command, in QEMU's (sorted) order.
 */
import test from 'ava';
import '../../src/monitor/qmp-cmds.js';
import { startQemu, startTsqom } from '../helpers/qemu/qemu.js';

for (const line of ['help', 'help info', 'info']) {
  test(`"${line}" lists tsqom's commands as QEMU does`, async (t) => {
    const [qemu, tsqom] = await Promise.all([startQemu(), startTsqom()]);
    try {
      const [cq, ct] = await Promise.all([qemu.connect(), tsqom.connect()]);
      await Promise.all([cq.negotiate(), ct.negotiate()]);
      const args = { 'command-line': line };
      const [q, s] = (await Promise.all([
        cq.cmd('human-monitor-command', args),
        ct.cmd('human-monitor-command', args),
      ])) as [string, string];
      await Promise.all([cq.close(), ct.close()]);
      const mine = s.split('\r\n').filter((l) => l !== '');
      const name = (l: string): string => l.replace(/^info /, '').split(' ')[0];
      const names = new Set(mine.map(name));
      const theirs = q.split('\r\n').filter((l) => names.has(name(l)));
      t.true(mine.length >= 5);
      t.deepEqual(mine, theirs);
    } finally {
      await Promise.all([qemu.stop(), tsqom.stop()]);
    }
  });
}
