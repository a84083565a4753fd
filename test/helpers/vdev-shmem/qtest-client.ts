/**
 * A small qtest client: one command at a time, replies matched in order,
 * asynchronous `IRQ raise N` / `IRQ lower N` lines collected on the side.
 */
import * as net from 'node:net';

/** A connected qtest client. */
export class QtestClient {
  private buf = '';
  private readonly replies: string[] = [];
  private readonly replyWaiters: ((line: string) => void)[] = [];
  /** Every `IRQ raise N` number seen so far, in order. */
  readonly raised: number[] = [];
  private readonly irqWaiters: (() => void)[] = [];
  private closed = false;

  private constructor(private readonly sock: net.Socket) {
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => this.feed(d));
    sock.on('close', () => {
      this.closed = true;
      for (const w of this.replyWaiters.splice(0)) w('CLOSED');
      for (const w of this.irqWaiters.splice(0)) w();
    });
    sock.on('error', () => {});
  }

  /** Connects to a qtest server's unix socket. */
  static connect(path: string): Promise<QtestClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ path });
      s.once('connect', () => {
        s.off('error', reject);
        resolve(new QtestClient(s));
      });
      s.once('error', reject);
    });
  }

  private feed(d: string): void {
    this.buf += d;
    for (let nl = this.buf.indexOf('\n'); nl >= 0; nl = this.buf.indexOf('\n')) {
      const line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + 1);
      const irq = /^IRQ (raise|lower) (\d+)$/.exec(line);
      if (irq) {
        if (irq[1] === 'raise') {
          this.raised.push(Number(irq[2]));
          for (const w of this.irqWaiters.splice(0)) w();
        }
        continue;
      }
      const w = this.replyWaiters.shift();
      if (w) w(line);
      else this.replies.push(line);
    }
  }

  /** Sends a command and resolves with its reply line; rejects on FAIL/ERR. */
  async cmd(line: string): Promise<string> {
    if (this.closed) throw new Error('qtest connection closed');
    const reply = new Promise<string>((resolve) => {
      const queued = this.replies.shift();
      if (queued !== undefined) resolve(queued);
      else this.replyWaiters.push(resolve);
    });
    this.sock.write(`${line}\n`);
    const r = await reply;
    if (!r.startsWith('OK')) throw new Error(`qtest '${line}': ${r}`);
    return r;
  }

  /** `readl ADDR` as a number. */
  async readl(addr: bigint): Promise<number> {
    return Number(BigInt((await this.cmd(`readl 0x${addr.toString(16)}`)).split(' ')[1]!));
  }

  /** `readq ADDR` as a bigint. */
  async readq(addr: bigint): Promise<bigint> {
    return BigInt((await this.cmd(`readq 0x${addr.toString(16)}`)).split(' ')[1]!);
  }

  /** `writel ADDR VAL`. */
  async writel(addr: bigint, v: number): Promise<void> {
    await this.cmd(`writel 0x${addr.toString(16)} 0x${(v >>> 0).toString(16)}`);
  }

  /** `write ADDR SIZE 0xHEX`. */
  async write(addr: bigint, data: Uint8Array): Promise<void> {
    await this.cmd(
      `write 0x${addr.toString(16)} ${data.length} 0x${Buffer.from(data).toString('hex')}`,
    );
  }

  /** `read ADDR SIZE` as bytes. */
  async read(addr: bigint, size: number): Promise<Uint8Array> {
    const r = await this.cmd(`read 0x${addr.toString(16)} ${size}`);
    return Uint8Array.from(Buffer.from(r.split(' ')[1]!.slice(2), 'hex'));
  }

  /** Resolves once at least `count` IRQ raises have been seen in total. */
  async waitRaised(count: number, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.raised.length < count) {
      if (this.closed) throw new Error('qtest connection closed');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`waited for ${count} IRQ raises, saw ${this.raised.length}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.irqWaiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /**
   * Makes sure every interrupt caused by something that happened before
   * the call has been reported. A doorbell rung before the first command
   * is handled in the same event-loop turn as that command at the latest,
   * so its IRQ lines are written before the second command's reply.
   */
  async sync(): Promise<void> {
    await this.cmd('readb 0x0');
    await this.cmd('readb 0x0');
  }

  /** Closes the connection. */
  close(): void {
    this.sock.destroy();
  }
}
