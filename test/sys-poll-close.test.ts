// Closing a descriptor ends a pollAsync wait on it at once with POLLNVAL (poll(2)'s answer for a closed fd), on the
// libc Sys (a libuv poll handle) and on the simulated camera alike: a camera source closed while it waits for a frame
// must neither hang until its frame timeout nor keep the process alive on that timer.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { createLibcSys, O_NONBLOCK, O_RDWR, POLLIN, POLLNVAL } from '../src/sys/index.js';
import { defaultSequenceDir, loadSequence, openCameraSource, SimCamera } from '../src/camera/index.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flowfpga-pollclose-'));
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));

t.test('libc: close() wakes a pending pollAsync with POLLNVAL', async (t) => {
  const sys = createLibcSys();
  const fifo = path.join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
  const fd = sys.open(fifo, O_RDWR | O_NONBLOCK); // Linux allows O_RDWR on a FIFO: no writer to wait for
  const p = sys.pollAsync(fd, POLLIN, 600_000);
  setImmediate(() => sys.close(fd));
  t.equal(await p, POLLNVAL);
  // A later wait on a new descriptor is unaffected.
  const fd2 = sys.open(fifo, O_RDWR | O_NONBLOCK);
  sys.write(fd2, Uint8Array.from([1]));
  t.equal(await sys.pollAsync(fd2, POLLIN, 60_000), POLLIN);
  sys.close(fd2);
});

t.test('a camera source closed while waiting for a frame: next() resolves null at once', async (t) => {
  const cam = new SimCamera({ path: 'cam', sequence: loadSequence(defaultSequenceDir()), fps: 0.001 });
  const src = await openCameraSource('cam', { sys: cam.sys, frameTimeoutMs: 600_000 });
  const p = src.next();
  setImmediate(() => void src.close());
  t.equal(await p, null);
  t.same([cam.state().open, cam.state().mapped], [0, 0]);
});
