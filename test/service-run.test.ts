// `flowfpga run` under a stand-in for systemd: a real subprocess with NOTIFY_SOCKET / WATCHDOG_USEC in its
// environment and a datagram socket receiving what it sends. READY=1 comes after the first frame, WATCHDOG=1 while
// frames complete, STOPPING=1 at a clean end; when the engine hangs (virtual board `hang` fault) the pings stop while
// the process lives on — what makes systemd's watchdog kill it and Restart=on-failure start it again.
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { startEmu } from '../src/emu/process.js';
import { EmuControl } from '../src/emu/control.js';
import { createLibcSys } from '../src/sys/index.js';
import { spawnCli } from './helpers/cli-proc.js';
import { dgramReceiver } from './helpers/dgram-receiver.js';
import { tinyModelFile } from './helpers/tiny-model.js';

const { dir, modelPath } = tinyModelFile(t, 'flowfpga-svc-', 4);

/** A folder of n 64x64 PPM frames (a moving gradient), consecutive frames paired by `run`. */
function frames(n: number): string {
  const d = fs.mkdtempSync(path.join(dir, 'frames-'));
  for (let i = 0; i < n; i++) {
    const px = Buffer.alloc(64 * 64 * 3);
    for (let y = 0; y < 64; y++) for (let x = 0; x < 64; x++) px.fill((x * 4 + y * 2 + i * 3) & 255, (y * 64 + x) * 3, (y * 64 + x) * 3 + 3);
    fs.writeFileSync(path.join(d, `f${String(i).padStart(3, '0')}.ppm`), Buffer.concat([Buffer.from('P6\n64 64\n255\n'), px]));
  }
  return d;
}

const abstractName = () => `@flowfpga-svc-${process.pid}-${Math.random().toString(36).slice(2)}`;
const pings = (ms: string[]) => ms.filter((x) => x === 'WATCHDOG=1').length;

t.test('run: READY=1 after the first frame, WATCHDOG=1 as frames complete, STOPPING=1 at the end', async (t) => {
  const address = abstractName();
  const rx = await dgramReceiver(address);
  t.teardown(() => rx.close());
  const p = spawnCli(['run', '--board', 'emu', '--model', modelPath, '--input', frames(6), '--out', path.join(dir, 'out1'), '--no-png'],
    { NOTIFY_SOCKET: address, WATCHDOG_USEC: '60000000', FLOWFPGA_EMU_DIR: '' });
  const r = await p.done;
  t.equal(r.code, 0, p.stderr());
  await rx.waitFor((ms) => ms.includes('STOPPING=1'));
  t.match(rx.messages[0], /^READY=1\nSTATUS=first frame done in \d+ ms; tiny on .*virtual board.*, net 64x64$/);
  t.equal(rx.messages.filter((x) => x.startsWith('READY=1')).length, 1, 'READY once');
  t.equal(rx.messages[1], 'WATCHDOG=1', 'the first frame pings at once');
  t.equal(rx.messages.at(-1), 'STOPPING=1');
  t.match(p.stdout(), /5 pair\(s\) written/);
});

t.test('run outside systemd sends nothing and needs no socket', async (t) => {
  const p = spawnCli(['run', '--board', 'emu', '--model', modelPath, '--input', frames(3), '--out', path.join(dir, 'out2'), '--no-png'], { NOTIFY_SOCKET: '', FLOWFPGA_EMU_DIR: '' });
  const r = await p.done;
  t.equal(r.code, 0, p.stderr());
  t.notMatch(p.stderr(), /notify/);
});

t.test('a hung engine: pings stop while run waits on it (systemd would kill and restart the service)', async (t) => {
  const emu = await startEmu({ stderr: 'ignore' });
  t.teardown(() => emu.stop());
  const control = new EmuControl(createLibcSys(), emu.info.control);
  t.teardown(() => control.close());
  const address = abstractName();
  const rx = await dgramReceiver(address);
  t.teardown(() => rx.close());
  // 1 s watchdog: checks every 0.5 s. The engine timeout is long so that the hang outlasts many checks.
  const p = spawnCli(['run', '--board', 'emu', '--model', modelPath, '--input', frames(400), '--out', path.join(dir, 'out3'), '--no-png', '--timeout', '120000'],
    { NOTIFY_SOCKET: address, WATCHDOG_USEC: '1000000', FLOWFPGA_EMU_DIR: emu.info.dir });
  t.teardown(() => void (p.child.exitCode === null && p.child.kill('SIGKILL')));
  await rx.waitFor((ms) => ms.some((x) => x.startsWith('READY=1')) && pings(ms) >= 2, 120_000);
  control.setFaults({ hang: true });
  const atHang = pings(rx.messages);
  // Three checks that saw no frame: each sends a STATUS line and no ping.
  await rx.waitFor((ms) => ms.filter((x) => x.startsWith('STATUS=no frame completed')).length >= 3, 60_000);
  const after = pings(rx.messages);
  t.ok(after - atHang <= 1, `at most one ping owed for frames finished before the hang (${after - atHang})`);
  const lastPing = rx.messages.lastIndexOf('WATCHDOG=1');
  const stalls = rx.messages.slice(lastPing + 1).filter((x) => x.startsWith('STATUS=no frame completed')).length;
  t.ok(stalls >= 2, `${stalls} checks without progress after the last ping`);
  t.equal(p.child.exitCode, null, 'the process is still alive: only the watchdog notices');
  // What systemd does at WatchdogSec: SIGABRT (here SIGKILL to keep core dumps out of the test).
  p.child.kill('SIGKILL');
  const r = await p.done;
  t.equal(r.signal, 'SIGKILL');
  t.notOk(rx.messages.includes('STOPPING=1'), 'no clean stop was announced');
});
