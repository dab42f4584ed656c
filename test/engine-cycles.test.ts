// src/scheduler/cycles.ts against the cycles the C simulation counts, for two engine configurations.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { tempDir } from './helpers/tmp.js';
import { join } from 'node:path';
import {
  commandCycles,
  decodeCommand,
  encodeCommand,
  DEFAULT_ENGINE_CONFIG,
  listCycles,
  FLAG_ACCFULL,
  FLAG_PIXLANES,
  type EngineConfig,
} from '../src/scheduler/cycles.js';

const HLS = new URL('../hw/hls/', import.meta.url).pathname;
const dir = tempDir(t, 'ff-cyc-');

function build(name: string, defs: string[]): string {
  const exe = join(dir, name);
  execFileSync('g++', ['-std=c++17', '-O1', '-w', ...defs, `-I${HLS}`, '-o', exe,
    join(HLS, 'flowfpga_engine.cpp'), join(HLS, 'tb', 'csim_main.cpp')], { timeout: 120_000 });
  return exe;
}

interface Report {
  config: { tm: number; tn: number; mac_depth: number; rd_ovh: number; wr_ovh: number; rq_depth: number;
    up_depth: number; check_cyc: number; obuf: number; bus_bytes: number; wr_bytes: number; up_par: number; pix_lanes: number;
    acc_full: number };
  commands: Array<{ status: number; cycles: number; cmd: string }>;
}

const configs: Array<[string, string[]]> = [
  ['default', []],
  ['small', ['-DFF_TM=3', '-DFF_TN=5', '-DFF_MAC_DEPTH=11', '-DFF_RD_OVH=20', '-DFF_IBUF=100000', '-DFF_OBUF=1000',
    '-DFF_SBUF=10000']],
  // Wide store / interpolation (the ZynqMP builds): rows cost the FF_WR_BYTES beats they span.
  ['wide', ['-DFF_TM=16', '-DFF_TN=8', '-DFF_BUS_BYTES=16', '-DFF_WR_BYTES=8', '-DFF_UP_PAR=4']],
];

for (const [name, defs] of configs) {
  t.test(`cycle model equals csim's counted cycles (${name} build)`, async (t) => {
    const rep = JSON.parse(execFileSync(build(name, defs), ['--cycles'], { encoding: 'utf8' })) as Report;
    const c = rep.config;
    const cfg: EngineConfig = { tm: c.tm, tn: c.tn, macDepth: c.mac_depth, rdOvh: c.rd_ovh, wrOvh: c.wr_ovh,
      rqDepth: c.rq_depth, upDepth: c.up_depth, checkCyc: c.check_cyc, obuf: c.obuf, busBytes: c.bus_bytes, wrBytes: c.wr_bytes, upPar: c.up_par,
      pixLanes: c.pix_lanes === 1, kPack: c.pix_lanes === 1, accFull: c.acc_full === 1 };
    if (name === 'default') t.same(cfg, DEFAULT_ENGINE_CONFIG, 'DEFAULT_ENGINE_CONFIG matches the header');
    t.ok(rep.commands.length >= 8);
    const cmds = [];
    for (const r of rep.commands) {
      t.equal(r.status, 0, 'command accepted');
      const buf = Buffer.from(r.cmd, 'hex');
      const cmd = decodeCommand(buf);
      cmds.push(cmd);
      t.equal(commandCycles(cmd, cfg), r.cycles, `op ${cmd.opcode} k ${cmd.k} s ${cmd.stride} flags ${cmd.flags}`);
      const again = new Uint8Array(128);
      encodeCommand(cmd, again);
      t.same(Buffer.from(again).toString('hex'), r.cmd, 'encode(decode(x)) = x');
    }
    t.equal(listCycles(cmds, cfg), rep.commands.reduce((s, r) => s + r.cycles, 0));
    // Pixel lanes are in the set wherever the build has two PE-row groups for them (FF_TM >= 4).
    if (c.tm >= 4) t.ok(cmds.filter((x) => x.flags & FLAG_PIXLANES).length >= 2, 'PIXLANES commands costed');
    // Full-accumulator commands, among them one with several groups of several blocks and one tile over FF_OBUF.
    const full = cmds.filter((x) => x.flags & FLAG_ACCFULL);
    t.ok(full.length >= 5, 'ACCFULL commands costed');
    t.ok(full.some((x) => x.tileH * x.tileW > c.obuf), 'ACCFULL tile larger than FF_OBUF costed');
  });
}

t.test('pixel lanes: the flow head (2 channels) costs its MAC stage once per E pixels', async (t) => {
  const rep = JSON.parse(execFileSync(join(dir, 'default'), ['--cycles'], { encoding: 'utf8' })) as Report;
  const lanes = rep.commands.map((r) => decodeCommand(Buffer.from(r.cmd, 'hex'))).find((x) => x.flags & FLAG_PIXLANES && x.flags & 2)!;
  t.ok(lanes, 'flow head command with PIXLANES');
  const plain = commandCycles({ ...lanes, flags: lanes.flags & ~FLAG_PIXLANES });
  const fast = commandCycles(lanes);
  // 8x8 tile, E = min(8 / 2, 8) = 4: the MAC stage drops from 9·64 + 8 to 9·16 + 8 cycles per input block.
  t.ok(fast < plain, `${fast} < ${plain}`);
  // Two input blocks (12 channels), at most 432 MAC cycles saved each (a step costs max(load, MAC)).
  t.ok(plain - fast <= 2 * (9 * 64 - 9 * 16), `saved ${plain - fast}`);
});

t.test('the model responds to the PE array: a wider input block (FF_TN) takes fewer cycles on a 19-channel input', async (t) => {
  const rep = JSON.parse(execFileSync(join(dir, 'default'), ['--cycles'], { encoding: 'utf8' })) as Report;
  const cmd = decodeCommand(Buffer.from(rep.commands[2]!.cmd, 'hex'));
  const a = commandCycles(cmd, { ...DEFAULT_ENGINE_CONFIG, tn: 4 });
  const b = commandCycles(cmd, { ...DEFAULT_ENGINE_CONFIG, tn: 16 });
  t.ok(b < a, `tn 16: ${b} < tn 4: ${a}`);
});

t.test('output blocks that share an accumulator half read the input once per group, not once per block', async (t) => {
  const { checkCommand, commandTraffic, newGeo } = await import('../src/scheduler/geometry.js');
  const rep = JSON.parse(execFileSync(join(dir, 'default'), ['--cycles'], { encoding: 'utf8' })) as Report;
  // 40 output channels (5 blocks of FF_TM = 8) of a 12x12 tile over 9 input channels: G = min(5, 1024 / 144) = 5.
  const cmd = decodeCommand(Buffer.from(rep.commands[6]!.cmd, 'hex'));
  t.equal(cmd.coEnd - cmd.coBegin, 40);
  const g = newGeo();
  t.equal(checkCommand(cmd, { tn: 8, ibuf: 4096, obuf: 1024, sbuf: 2048 }, 0, Number.MAX_SAFE_INTEGER, g), 0);
  const P = cmd.tileH * cmd.tileW;
  const grouped = commandTraffic(cmd, g, { tm: 8, tn: 8, obuf: 1024, busBytes: 8 }, { read: 0, write: 0 }).read;
  const single = commandTraffic(cmd, g, { tm: 8, tn: 8, obuf: P, busBytes: 8 }, { read: 0, write: 0 }).read;
  // The in-tensor 12x12 window (12 rows of two 8-byte beats) of 9 channels is read once instead of 5 times.
  t.equal(single - grouped, 4 * 9 * 12 * 16, `grouped ${grouped} B, one block per group ${single} B`);
  // Cycles differ too (the grouped store is not hidden behind a next block here): both are the engine's model.
  t.not(commandCycles(cmd, DEFAULT_ENGINE_CONFIG), commandCycles(cmd, { ...DEFAULT_ENGINE_CONFIG, obuf: P }));
});

t.test('costing a tile larger than FF_OBUF is an error, not an endless loop', async (t) => {
  const { commandCycles, DEFAULT_ENGINE_CONFIG } = await import('../src/scheduler/cycles.js');
  const cfg = { ...DEFAULT_ENGINE_CONFIG, obuf: 16 };
  const cmd = {
    opcode: 1, flags: 0, bits: 8, k: 3, stride: 1, inC: 4, inH: 8, inW: 8, outH: 8, outW: 8, outCTotal: 4, outCOffset: 0,
    cout: 4, coBegin: 0, coEnd: 4, tileY: 0, tileX: 0, tileH: 8, tileW: 8, inAddr: 0, wAddr: 0, qAddr: 0, outAddr: 0,
    inLen: 256, wLen: 144, qLen: 44, outLen: 256, tag: 0,
  };
  t.throws(() => commandCycles(cmd as any, cfg), /exceeds FF_OBUF/);
});

t.test('full accumulator (ACCFULL): capacity 2·FF_OBUF, sequential store, checks and traffic', async (t) => {
  const { checkCommand, commandTraffic, newGeo, ST_OK, ST_PARAM, ST_TILE } = await import('../src/scheduler/geometry.js');
  const rep = JSON.parse(execFileSync(join(dir, 'default'), ['--cycles'], { encoding: 'utf8' })) as Report;
  const cmds = rep.commands.map((r) => decodeCommand(Buffer.from(r.cmd, 'hex')));
  const cfg = DEFAULT_ENGINE_CONFIG;
  const buf = { tn: 8, ibuf: 4096, obuf: 1024, sbuf: 2048 };
  const g = newGeo();
  // 40x32 tile (1280 words > FF_OBUF): accepted only with the flag, and only where the engine has it.
  const big = cmds.find((x) => x.flags & FLAG_ACCFULL && x.tileH * x.tileW > 1024)!;
  t.equal(checkCommand(big, buf, 0, Number.MAX_SAFE_INTEGER, g), ST_OK);
  t.equal(checkCommand({ ...big, flags: big.flags & ~FLAG_ACCFULL }, buf, 0, Number.MAX_SAFE_INTEGER, g), ST_TILE);
  t.equal(checkCommand(big, { ...buf, accFull: false }, 0, Number.MAX_SAFE_INTEGER, g), ST_PARAM);
  t.equal(checkCommand(big, { ...buf, obuf: 639 }, 0, Number.MAX_SAFE_INTEGER, g), ST_TILE, 'P > 2·FF_OBUF');
  t.throws(() => commandCycles(big, { ...cfg, obuf: 639 }), /exceeds 2·FF_OBUF/);
  // UPSAMPLE with the flag: PARAM.
  const up = cmds.find((x) => x.opcode === 2)!;
  t.equal(checkCommand({ ...up, flags: up.flags | FLAG_ACCFULL }, buf, 0, Number.MAX_SAFE_INTEGER, g), ST_PARAM);
  // One group either way (12x12 tile, 5 blocks): identical cycles; the store is exposed at the end in both modes.
  const one = cmds.find((x) => x.flags === FLAG_ACCFULL && x.tileH === 12)!;
  t.equal(commandCycles(one, cfg), commandCycles({ ...one, flags: 0 }, cfg), 'single group: same cycles');
  // 30x30 tile, 5 blocks: ping-pong G = 1 (5 input reads), ACCFULL G = 2 (3 reads); the store is then no longer
  // hidden behind MACs, so the sum of stages is paid: more cycles, fewer bytes.
  const multi = cmds.find((x) => x.flags & FLAG_ACCFULL && x.tileH === 30)!;
  t.equal(checkCommand(multi, buf, 0, Number.MAX_SAFE_INTEGER, g), ST_OK);
  const e = { tm: 8, tn: 8, obuf: 1024, busBytes: 8 };
  const rdFull = commandTraffic(multi, g, e, { read: 0, write: 0 }).read;
  const rdHalf = commandTraffic({ ...multi, flags: multi.flags & ~FLAG_ACCFULL }, g, e, { read: 0, write: 0 }).read;
  const rdOnce = commandTraffic({ ...multi, flags: multi.flags & ~FLAG_ACCFULL }, g, { ...e, obuf: 5 * 900 }, { read: 0, write: 0 }).read;
  t.ok(rdFull > rdOnce);
  t.equal(rdHalf - rdOnce, 2 * (rdFull - rdOnce), 'input window read 3 times instead of 5');
  t.ok(commandCycles(multi, cfg) > commandCycles({ ...multi, flags: multi.flags & ~FLAG_ACCFULL }, cfg), 'store exposed');
});
