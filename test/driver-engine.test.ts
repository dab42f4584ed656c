import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { EngineDriver, EngineError, type IrqSource } from '../src/driver/engine.js';
import { ENGINE_REGS, ENGINE_REGS_SPAN, ENGINE_MAGIC, engineRegMapFromHwh, AP_DONE, AP_IDLE, AP_START } from '../src/driver/engine-regs.js';
import type { RegisterIo } from '../src/driver/mmio.js';
import { read64 } from '../src/driver/mmio.js';

const R = ENGINE_REGS;

/**
 * Register-level model of an ap_ctrl_hs HLS block: ap_done clear-on-read, ISR either toggle-on-write or
 * clear-on-read, completion after `latency` AP_CTRL reads (or never, to model a hang).
 */
class FakeEngine implements RegisterIo {
  readonly size = 0x100;
  regs = new Uint32Array(0x40);
  running = false;
  done = false;
  isr = 0;
  polls = 0;
  starts = 0;
  log: string[] = [];
  onDone?: () => void;
  constructor(
    readonly isrMode: 'TOW' | 'COR',
    public latency = 3,
    public status = 0,
  ) {}
  finish(): void {
    this.running = false;
    this.done = true;
    this.regs[R.status / 4] = this.status;
    this.regs[R.cmds_done / 4] = this.regs[R.cmd_count / 4]!;
    this.regs[R.cycles / 4] = 1234;
    this.regs[R.cycles / 4 + 1] = 1;
    this.regs[R.magic / 4] = ENGINE_MAGIC;
    this.regs[R.cap_pe / 4] = 16 | (8 << 16);
    if (this.regs[R.IER / 4]! & 1) this.isr |= 1;
    if (this.regs[R.GIE / 4]! & 1 && this.isr & 1) this.onDone?.();
  }
  read32(off: number): number {
    if (off === R.AP_CTRL) {
      if (this.running && this.latency >= 0 && ++this.polls >= this.latency) this.finish();
      const v = (this.running ? AP_START : AP_IDLE) | (this.done ? AP_DONE : 0);
      this.done = false; // COR
      return v;
    }
    if (off === R.ISR) {
      const v = this.isr;
      if (this.isrMode === 'COR') this.isr = 0;
      return v;
    }
    return this.regs[off / 4]!;
  }
  write32(off: number, v: number): void {
    this.log.push(`${off.toString(16)}=${v.toString(16)}`);
    if (off === R.AP_CTRL) {
      if (v & AP_START) {
        this.running = true;
        this.polls = 0;
        this.starts++;
      }
      return;
    }
    if (off === R.ISR) {
      if (this.isrMode === 'TOW') this.isr ^= v;
      return;
    }
    this.regs[off / 4] = v >>> 0;
  }
}

class FakeIrq implements IrqSource {
  armed = 0;
  count = 0;
  #resolve?: (n: number | null) => void;
  arm(): void {
    this.armed++;
  }
  fire(): void {
    this.count++;
    const r = this.#resolve;
    this.#resolve = undefined;
    r?.(this.count);
  }
  wait(ms: number): Promise<number | null> {
    return new Promise((res) => {
      const tm = setTimeout(() => res(null), ms);
      this.#resolve = (n) => {
        clearTimeout(tm);
        res(n);
      };
    });
  }
}

const RUN = { cmdAddr: 0x1_0000_1000n, cmdCount: 7, winBase: 0x3000_0000n, winSize: 0x1000_0000n };

t.test('polling: args, start keeps auto_restart, ap_done consumed once', async (t) => {
  const e = new FakeEngine('TOW');
  const d = new EngineDriver(e, { sleep: async () => {} });
  const r = await d.run(RUN);
  t.match(r, { status: 0, statusText: 'ok', cmdsDone: 7, errIndex: 0, cycles: (1n << 32n) + 1234n, attempts: 1 });
  t.equal(read64(e, R.cmd_addr), RUN.cmdAddr);
  t.equal(read64(e, R.win_size), RUN.winSize);
  t.equal(e.regs[R.cmd_count / 4], 7);
  t.equal(e.log[e.log.length - 1], '0=1', 'AP_CTRL written last, only the start bit');
  t.equal(e.log.filter((l) => l.startsWith('0=')).length, 1, 'AP_CTRL written once: no bulk write with a stale start bit');
  t.ok(e.log.includes('4=0'), 'GIE off when polling');
  t.equal(e.read32(R.AP_CTRL) & AP_DONE, 0, 'done already consumed by the driver');
});

for (const mode of ['TOW', 'COR'] as const) {
  t.test(`interrupt mode with ISR ${mode}`, async (t) => {
    const e = new FakeEngine(mode, -1);
    const irq = new FakeIrq();
    e.onDone = () => setTimeout(() => irq.fire(), 1);
    const d = new EngineDriver(e, { irq, timeoutMs: 500 });
    d.start(RUN);
    t.ok(e.log.includes('8=1') && e.log.includes('4=1'), 'IER ap_done and GIE set');
    t.equal(irq.armed, 1, 're-armed before start');
    setTimeout(() => e.finish(), 5);
    t.equal(await d.waitDone(), true);
    t.equal(e.isr, 0, `ISR cleared (${mode === 'TOW' ? 'write-back toggled it' : 'read cleared it'})`);
    // A second run must not see a stale ISR bit.
    d.start(RUN);
    setTimeout(() => e.finish(), 5);
    t.equal(await d.waitDone(), true);
    t.equal(e.isr, 0);
  });
}

t.test('spurious interrupt re-arms and keeps waiting', async (t) => {
  const e = new FakeEngine('TOW', -1);
  const irq = new FakeIrq();
  const d = new EngineDriver(e, { irq });
  d.start(RUN);
  setTimeout(() => irq.fire(), 2); // not ours: ISR 0, ap_done 0
  setTimeout(() => {
    e.isr = 0;
    e.regs[R.IER / 4] = 1;
    e.onDone = () => irq.fire();
    e.finish();
  }, 15);
  t.equal(await d.waitDone(300), true);
  t.equal(irq.armed, 2);
});

t.test('status decoding is returned, not thrown', async (t) => {
  const d = new EngineDriver(new FakeEngine('COR', 2, 6), { sleep: async () => {} });
  const r = await d.run(RUN);
  t.equal(r.status, 6);
  t.match(r.statusText, /outside a declared extent/);
  const d2 = new EngineDriver(new FakeEngine('COR', 1, 99), { sleep: async () => {} });
  t.equal((await d2.run(RUN)).statusText, 'unknown status 99');
});

t.test('timeout → reset → bounded retry → EngineError', async (t) => {
  const e = new FakeEngine('TOW', -1);
  let resets = 0;
  const d = new EngineDriver(e, {
    timeoutMs: 15,
    retries: 2,
    plReset: () => {
      resets++;
      e.running = false;
    },
  });
  const err = (await d.run(RUN).then(
    () => null,
    (x) => x,
  )) as EngineError;
  t.type(err, EngineError);
  t.equal(err.code, 'ETIMEDOUT');
  t.match(err.message, /engine did not finish within 15 ms \(3 attempts; AP_CTRL 0x1, 0 commands done\)/);
  t.equal(e.starts, 3);
  t.equal(resets, 2);

  // Hang on the first attempt only: the retry succeeds.
  const e2 = new FakeEngine('TOW', -1);
  const d2 = new EngineDriver(e2, {
    timeoutMs: 15,
    plReset: () => {
      e2.running = false;
      e2.latency = 1;
    },
  });
  t.equal((await d2.run(RUN)).attempts, 2);

  // Without a PL reset hook a hung engine never becomes idle: reset itself times out.
  const e3 = new FakeEngine('TOW', -1);
  const d3 = new EngineDriver(e3, { timeoutMs: 5 });
  await t.rejects(d3.run(RUN), /did not return to idle after reset/);
  t.throws(() => d3.start(RUN), { code: 'EBUSY', message: /engine busy \(AP_CTRL 0x1\)/ });
});

t.test('probe checks the magic; window size and register map sources', async (t) => {
  const e = new FakeEngine('TOW', 1);
  const caps = await new EngineDriver(e, { sleep: async () => {} }).probe();
  t.match(caps, { magic: ENGINE_MAGIC, peRows: 16, peCols: 8 });
  const bad = new FakeEngine('TOW', 1);
  bad.finish = function () {
    FakeEngine.prototype.finish.call(this);
    this.regs[R.magic / 4] = 0xdeadbeef;
  };
  await t.rejects(new EngineDriver(bad, { sleep: async () => {} }).probe(), { code: 'EBADMAGIC' });
  t.throws(() => new EngineDriver({ size: 0x40, read32: () => 0, write32: () => {} }), /register window is 64 bytes, the engine needs 184/);
  t.equal(ENGINE_REGS_SPAN, R.cycles + 12, 'span covers cycles lo/hi/ctrl');

  const m = engineRegMapFromHwh([
    { name: 'CTRL', offset: 0, size: 32, access: '', description: '', fields: [] },
    { name: 'IP_ISR', offset: 0x0c, size: 32, access: '', description: '', fields: [] },
    { name: 'cmd_addr_1', offset: 0x30, size: 32, access: '', description: '', fields: [] },
    { name: 'status', offset: 0xa0, size: 32, access: '', description: '', fields: [] },
  ]);
  t.equal(m.cmd_addr, 0x30);
  t.equal(m.status, 0xa0);
  t.equal(m.cmd_count, R.cmd_count, 'unknown names keep the derived offset');
});

// The derived offset table must agree with the HLS engineer's machine-readable register file once it exists.
const here = path.dirname(fileURLToPath(import.meta.url));
const REGS_JSON = path.resolve(here, '../hw/hls/registers.json');
t.test('ENGINE_REGS matches hw/hls/registers.json', { skip: fs.existsSync(REGS_JSON) ? false : 'hw/hls/registers.json not written yet' }, async (t) => {
  const j = JSON.parse(fs.readFileSync(REGS_JSON, 'utf8')) as unknown;
  // Accept {registers: [{name, offset}]} or {name: offset} or [{name, offset}].
  const list: { name: string; offset: number | string }[] = Array.isArray(j)
    ? j
    : Array.isArray((j as { registers?: unknown }).registers)
      ? (j as { registers: { name: string; offset: number }[] }).registers
      : Object.entries(j as Record<string, number>).map(([name, offset]) => ({ name, offset }));
  const by = new Map(list.map((r) => [r.name.toLowerCase(), Number(r.offset)]));
  let compared = 0;
  for (const [k, off] of Object.entries(R)) {
    const v = by.get(k.toLowerCase()) ?? by.get(`${k.toLowerCase()}_lo`);
    if (v === undefined || Number.isNaN(v)) continue;
    compared++;
    t.equal(off, v, `${k} at 0x${v.toString(16)}`);
  }
  t.ok(compared >= 10, `compared ${compared} registers`);
});
