// The cache-maintenance helper's self-check (native/test/ffcache_check.c: lines maintained == a brute-force walk,
// memory untouched, bad arguments rejected) on this machine, and for aarch64 under qemu-user when the cross
// compiler is installed: that is the DC CIVAC path the ZynqMP boards run (CI installs both).
import t from 'tap';
import path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';

const native = path.resolve(import.meta.dirname, '..', 'native');
const has = (cmd: string): boolean => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

const run = (target: string): string => execFileSync('make', ['-s', '-C', native, target], { encoding: 'utf8' });

t.test('self-check on this machine', async (t) => {
  if (process.arch !== 'x64' && process.arch !== 'arm64') {
    t.skip(`no user-space cache maintenance on ${process.arch}`);
    return;
  }
  t.match(run('check'), /^\d{3,} passed, 0 failed$/m);
});

t.test('self-check for aarch64 under qemu-user (the ZynqMP path)', async (t) => {
  if (!has('aarch64-linux-gnu-gcc') || !has('qemu-aarch64')) {
    t.skip('needs gcc-aarch64-linux-gnu and qemu-user (apt-get install gcc-aarch64-linux-gnu qemu-user)');
    return;
  }
  t.match(run('check-aarch64'), /^\d{3,} passed, 0 failed$/m);
});
