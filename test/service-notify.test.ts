// sd_notify from the runtime: Sys.socketDgram/sendto against a real AF_UNIX datagram socket (path and abstract
// namespace), the Notifier's messages, and the watchdog tied to frame progress — a hung engine on the virtual board
// stops the pings (so systemd would restart the service) and they resume with the frames.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createLibcSys, SysError, type Sys } from '../src/sys/index.js';
import { Notifier } from '../src/service/notify.js';
import { FrameWatchdog } from '../src/service/watchdog.js';
import { ServiceLink } from '../src/service/link.js';
import { openFlowDevice } from '../src/device/index.js';
import { engineFlowFactory, EngineFlowDevice } from '../src/cli/engine-flow.js';
import { flownetsQ } from '../src/model/arch.js';
import { randomFrames, randomModel } from '../src/reference/index.js';
import { EngineError } from '../src/driver/engine.js';
import { dgramReceiver } from './helpers/dgram-receiver.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flowfpga-notify-'));
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
const sys = createLibcSys();
const abstractName = () => `@flowfpga-test-${process.pid}-${Math.random().toString(36).slice(2)}`;
const count = (m: string[], s: string) => m.filter((x) => x === s).length;

t.test('Sys.sendto: one datagram per call to a path socket and to an abstract one', async (t) => {
  for (const address of [path.join(dir, 'notify.sock'), abstractName()]) {
    const rx = await dgramReceiver(address);
    t.teardown(() => rx.close());
    const fd = sys.socketDgram();
    t.equal(sys.sendto(fd, Buffer.from('READY=1\nSTATUS=hello'), address), 20);
    t.equal(sys.sendto(fd, Buffer.from('WATCHDOG=1'), address), 10);
    await rx.waitFor((m) => m.length === 2);
    t.same(rx.messages, ['READY=1\nSTATUS=hello', 'WATCHDOG=1'], `datagram boundaries kept (${address.startsWith('@') ? 'abstract' : 'path'})`);
    sys.close(fd);
  }
});

t.test('Sys.sendto errors: SysError with the address', async (t) => {
  const fd = sys.socketDgram();
  t.teardown(() => sys.close(fd));
  const missing = path.join(dir, 'nobody.sock');
  t.throws(() => sys.sendto(fd, Buffer.from('x'), missing), { name: 'SysError', code: 'ENOENT', message: `sendto ${missing}: ENOENT (no such file or directory)` });
  t.throws(() => sys.sendto(fd, Buffer.from('x'), '@flowfpga-nobody-listens'), { code: 'ECONNREFUSED' });
  t.throws(() => sys.sendto(fd, Buffer.from('x'), '/' + 'a'.repeat(120)), { code: 'ENAMETOOLONG' });
  t.throws(() => sys.sendto(fd, Buffer.from('x'), '@'), { code: 'EINVAL' });
  t.throws(() => sys.sendto(fd, Buffer.from('x'), ''), { code: 'EINVAL' });
});

t.test('Notifier: READY / STATUS / WATCHDOG / STOPPING as systemd reads them; a no-op outside systemd', async (t) => {
  const address = abstractName();
  const rx = await dgramReceiver(address);
  t.teardown(() => rx.close());
  const n = new Notifier({ env: { NOTIFY_SOCKET: address, WATCHDOG_USEC: '30000000', WATCHDOG_PID: String(process.pid) }, sys });
  t.teardown(() => n.close());
  t.ok(n.enabled);
  t.equal(n.watchdogUsec, 30_000_000);
  t.ok(n.ready('serving on 127.0.0.1:8080\nsecond line'));
  t.ok(n.watchdog());
  t.ok(n.status('frame 12'));
  t.ok(n.stopping());
  await rx.waitFor((m) => m.length === 4);
  t.same(rx.messages, ['READY=1\nSTATUS=serving on 127.0.0.1:8080 second line', 'WATCHDOG=1', 'STATUS=frame 12', 'STOPPING=1']);
  t.equal(n.sent, 4);

  const untouched: Sys = new Proxy({} as Sys, { get: () => { throw new Error('no syscall outside systemd'); } });
  const off = new Notifier({ env: {}, sys: untouched });
  t.notOk(off.enabled);
  t.equal(off.ready(), false);
  t.equal(off.watchdog(), false);
  t.equal(off.watchdogUsec, undefined);
  t.equal(new Notifier({ env: { NOTIFY_SOCKET: address, WATCHDOG_USEC: '1000000', WATCHDOG_PID: '1' }, sys }).watchdogUsec, undefined, 'WATCHDOG_PID of another process');
  t.equal(new Notifier({ env: { WATCHDOG_USEC: '1000000' }, sys }).watchdogUsec, undefined, 'no socket, no watchdog');

  const warnings: string[] = [];
  const gone = new Notifier({ env: { NOTIFY_SOCKET: path.join(dir, 'gone.sock') }, sys, warn: (l) => warnings.push(l) });
  t.equal(gone.ready(), false);
  t.equal(gone.watchdog(), false);
  t.same(warnings, [`flowfpga: cannot notify systemd at ${path.join(dir, 'gone.sock')}: sendto ${path.join(dir, 'gone.sock')}: ENOENT (no such file or directory)`], 'reported once, never thrown');
  gone.close();
  t.ok(new SysError('sendto', 2, 'x') instanceof Error);
});

t.test('FrameWatchdog: pings only when frames completed since the last ping', async (t) => {
  let now = 0;
  const sent: string[] = [];
  const wd = new FrameWatchdog({ watchdog: () => (sent.push('WATCHDOG=1'), true), status: (s) => (sent.push(`STATUS=${s}`), true) }, { watchdogUsec: 2_000_000, now: () => now });
  t.equal(wd.periodMs, 1000, 'half of WatchdogSec');
  t.equal(wd.check(), false, 'no frame yet: no ping');
  wd.progress();
  t.same(sent.filter((s) => s === 'WATCHDOG=1').length, 1, 'first frame pings at once');
  now = 300;
  wd.progress();
  t.equal(wd.pings, 1, 'a second frame within the period waits for the check');
  t.equal(wd.check(), true, 'the check pings for it');
  now = 1300;
  t.equal(wd.check(), false, 'nothing new since: silent');
  now = 2300;
  t.equal(wd.check(), false);
  t.equal(wd.stalls, 3);
  t.match(sent.at(-1), /^STATUS=no frame completed for 2\.0 s \(watchdog 2 s\)$/);
  now = 5000;
  wd.progress();
  t.equal(wd.pings, 3, 'a slow frame after a long gap pings at once');
  t.match(sent.at(-1), /^STATUS=frames completing again \(3 so far\)$/);
  t.throws(() => new FrameWatchdog({ watchdog: () => true }, { watchdogUsec: 0 }), RangeError);
});

t.test('ServiceLink: READY=1 after the first frame, then WATCHDOG=1 per progress, STOPPING=1 at the end', async (t) => {
  const address = abstractName();
  const rx = await dgramReceiver(address);
  t.teardown(() => rx.close());
  const link = new ServiceLink(new Notifier({ env: { NOTIFY_SOCKET: address, WATCHDOG_USEC: '60000000' }, sys }));
  t.teardown(() => link.close());
  t.notOk(link.ready);
  link.frameDone({ ms: 812.4, what: 'pynq-z2, flownets-q-w0.25-8bit at 384x512' });
  t.ok(link.ready);
  t.equal(link.watchdog?.periodMs, 30_000);
  link.frameDone();
  link.stopping();
  await rx.waitFor((m) => m.includes('STOPPING=1'));
  t.same(rx.messages, ['READY=1\nSTATUS=first frame done in 812 ms; pynq-z2, flownets-q-w0.25-8bit at 384x512', 'WATCHDOG=1', 'STOPPING=1'], 'the second frame within the period waits for the (stopped) timer');
  t.equal(link.frames, 2);

  const off = new ServiceLink(new Notifier({ env: {} }));
  off.frameDone();
  off.stopping();
  t.notOk(off.ready, 'outside systemd: nothing');
  t.equal(off.frames, 1);
  off.close();
});

t.test('a hung engine on the virtual board stops the watchdog pings; they resume with the frames', async (t) => {
  const address = abstractName();
  const rx = await dgramReceiver(address);
  t.teardown(() => rx.close());
  const notifier = new Notifier({ env: { NOTIFY_SOCKET: address, WATCHDOG_USEC: '400000' }, sys });
  t.teardown(() => notifier.close());
  let stalled: (() => void) | undefined;
  let stallsWanted = 0;
  const wd = new FrameWatchdog(notifier, {
    watchdogUsec: notifier.watchdogUsec!,
    onStall: () => {
      if (stalled && wd.stalls >= stallsWanted) stalled();
    },
  }).start();
  t.teardown(() => wd.stop());

  const dev = (await openFlowDevice({
    board: 'emu', timeoutMs: 4000, retries: 0,
    engineFlow: engineFlowFactory({ verify: 'off', policy: 'log', timeoutMs: 4000 }),
  })) as EngineFlowDevice;
  t.teardown(() => dev.close());
  const model = randomModel(flownetsQ({ width: 1 / 16 }), 5);
  await dev.load(model, 64, 64);
  const frames = randomFrames(64, 64, 9);

  // Frames complete: pings go out.
  for (let i = 0; i < 3; i++) {
    await dev.infer(frames);
    wd.progress();
  }
  await rx.waitFor((m) => count(m, 'WATCHDOG=1') >= 1);
  t.ok(wd.pings >= 1);

  // The engine hangs in the next frame: the loop blocks inside infer, the timer keeps running, no ping is sent.
  dev.engine.control!.setFaults({ hang: true });
  const pingsAtHang = wd.pings;
  const stallsAtHang = wd.stalls;
  const stallsReach = (n: number) => {
    stallsWanted = n;
    return new Promise<void>((r) => (stalled = r));
  };
  const firstStall = stallsReach(stallsAtHang + 1);
  const hung = dev.infer(frames).then(
    () => 'finished',
    (e: unknown) => (e instanceof EngineError ? e.code : String(e)),
  );
  await firstStall;
  // At most one ping is still owed for frames that completed before the hang; after that, silence.
  const owed = wd.pings;
  t.ok(owed - pingsAtHang <= 1, `${owed - pingsAtHang} ping(s) owed for the frames before the hang`);
  await stallsReach(wd.stalls + 3);
  t.equal(wd.pings, owed, `no WATCHDOG=1 through ${wd.stalls - stallsAtHang} checks while the engine hangs`);
  await rx.waitFor((m) => m.some((x) => x.startsWith('STATUS=no frame completed')));
  t.equal(count(rx.messages, 'WATCHDOG=1'), owed, 'the socket received exactly the pings sent before the hang');
  t.equal(await hung, 'ETIMEDOUT', 'the hung job times out (a service would exit non-zero; Restart=on-failure)');

  // Fault cleared: frames and pings resume.
  dev.engine.control!.setFaults({});
  await dev.infer(frames);
  wd.progress();
  await rx.waitFor((m) => count(m, 'WATCHDOG=1') > owed);
  t.ok(wd.pings > owed);
});
