import t from 'tap';
import { spawnSync } from 'node:child_process';
import { main } from '../src/cli/main.js';
import { benchLayers, runReferenceBench } from '../src/reference/bench.js';
import { UserError } from '../src/errors.js';

const hasGxx = !spawnSync('g++', ['--version']).error;

t.test('bench layers are FlowNetS-Q shapes', async (t) => {
  const l = benchLayers(0.25, 192, 256);
  t.same(l.map((x) => x.name), ['conv1', 'conv2', 'conv3_1', 'conv4', 'conv5_1', 'conv6_1', 'deconv3', 'predict_flow2']);
  const conv1 = l[0];
  t.same([conv1.cin, conv1.cout, conv1.k, conv1.stride, conv1.h, conv1.w], [6, 16, 7, 2, 192, 256]);
  // deconv3 (upsample-conv) reads a 12x16 tensor and its conv runs at twice that.
  t.same([l[6].h, l[6].w], [24, 32]);
  t.equal(l[7].mode, 1);
});

t.test('flowfpga bench reference --json (tiny) prints the promised object', { skip: !hasGxx && 'g++ not installed' }, async (t) => {
  let out = '';
  const write = process.stdout.write;
  process.stdout.write = ((s: string) => {
    out += s;
    return true;
  }) as typeof process.stdout.write;
  try {
    await main(['node', 'flowfpga', 'bench', 'reference', '--json', '--tiny']);
  } finally {
    process.stdout.write = write;
  }
  const r = JSON.parse(out);
  for (const k of ['ts_macs_per_s', 'cpp_macs_per_s', 'ratio']) t.ok(Number.isFinite(r[k]) && r[k] > 0, k);
  t.equal(r.ratio, r.ts_macs_per_s / r.cpp_macs_per_s);
  t.equal(r.layers.length, 8);
  for (const l of r.layers) {
    t.ok(l.ts_macs_per_s > 0 && l.cpp_macs_per_s > 0 && l.macs > 0, l.name);
    t.ok(Number.isInteger(l.checksum), 'TS and C++ checksums agreed');
  }
  t.ok(r.machine.cpus >= 1 && typeof r.machine.node === 'string');
});

t.test('a missing compiler is one clear UserError', async (t) => {
  let err: unknown;
  try {
    runReferenceBench({ compiler: 'no-such-gxx-flowfpga', width: 1 / 16, h: 64, w: 64, minSeconds: 0 });
  } catch (e) {
    err = e;
  }
  t.ok(err instanceof UserError, 'UserError');
  t.match((err as UserError).message, /not found/);
  t.match((err as UserError).hint, /apt install g\+\+/);
});
