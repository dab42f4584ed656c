// `flowfpga regress --ssh` against a real sshd (Debian openssh-server) started here on 127.0.0.1 with a throwaway
// host key and user key, running `flowfpga agent --stdio --board emu` (from src/) as the remote command.
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { runCli } from './helpers/cli.js';
import { root, waitFor } from './helpers/regress-link.js';
import { listModels } from '../src/model/registry.js';

const SSHD = '/usr/sbin/sshd';
const missing = !fs.existsSync(SSHD) ? `${SSHD} is missing (apt-get install openssh-server)`
  : spawnSync('ssh-keygen', ['-?'], { stdio: 'ignore' }).error ? 'ssh-keygen is missing (apt-get install openssh-client)' : '';

const freePort = (): Promise<number> => new Promise((res, rej) => {
  const s = net.createServer();
  s.once('error', rej);
  s.listen(0, '127.0.0.1', () => {
    const p = (s.address() as net.AddressInfo).port;
    s.close(() => res(p));
  });
});

const accepts = (port: number): Promise<boolean> => new Promise((res) => {
  const c = net.connect(port, '127.0.0.1');
  c.once('connect', () => {
    c.destroy();
    res(true);
  });
  c.once('error', () => res(false));
});

if (missing) {
  if (process.env.CI) t.fail(missing);
  else t.plan(0, missing);
} else {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ffssh-'));
  const user = os.userInfo().username;
  const keygen = (f: string): void => void spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', f], { stdio: 'ignore' });
  keygen(path.join(dir, 'host_key'));
  keygen(path.join(dir, 'id'));
  fs.copyFileSync(path.join(dir, 'id.pub'), path.join(dir, 'authorized_keys'));
  // sshd wants its privilege-separation directory even when it never drops privileges for a session.
  if (process.getuid?.() === 0) fs.mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const port = await freePort();
  fs.writeFileSync(path.join(dir, 'sshd_config'), [
    `Port ${port}`, 'ListenAddress 127.0.0.1', `HostKey ${dir}/host_key`, `PidFile ${dir}/sshd.pid`,
    `AuthorizedKeysFile ${dir}/authorized_keys`, 'PubkeyAuthentication yes', 'PasswordAuthentication no',
    'KbdInteractiveAuthentication no', 'UsePAM no', 'StrictModes no', 'PermitRootLogin prohibit-password',
    `AllowUsers ${user}`, 'LogLevel ERROR', '',
  ].join('\n'));
  const sshd = spawn(SSHD, ['-D', '-e', '-f', path.join(dir, 'sshd_config')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let sshdLog = '';
  sshd.stderr!.on('data', (d) => (sshdLog += d));
  t.teardown(() => {
    sshd.kill();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  let up = false;
  await waitFor(() => sshd.exitCode !== null || up, 20_000, 'sshd to listen').catch(() => undefined);
  for (let i = 0; i < 200 && !up && sshd.exitCode === null; i++) {
    up = await accepts(port);
    if (!up) await new Promise((r) => setTimeout(r, 50));
  }
  if (!up) throw new Error(`sshd did not start: ${sshdLog}`);

  const agentCmd = `cd ${root} && TS_NODE_TRANSPILE_ONLY=1 ${process.execPath} --import=@isaacs/ts-node-temp-fork-for-pr-2009/import test/helpers/flowfpga-src.ts agent --stdio --board emu`;
  const sshArgs = ['--ssh', `${user}@127.0.0.1`, '--ssh-port', String(port), '--identity', path.join(dir, 'id'),
    '--ssh-option', `UserKnownHostsFile=${dir}/known_hosts`, '--ssh-option', 'StrictHostKeyChecking=accept-new'];

  t.test('golden vectors and a shipped model pass over ssh; link wall time against board time', async (t) => {
    const model = listModels()[0]!.name;
    const report = path.join(dir, 'ssh.xml');
    // The agent compiles from src/ under ts-node on start: a generous timeout for the first answer.
    const r = await runCli(['regress', ...sshArgs, '--agent-command', agentCmd, '--cases', `golden,model:${model}`, '--timeout', '300', '--report', report]);
    t.equal(r.code, 0, r.stderr + r.stdout);
    t.match(r.stdout, /^TAP version 14\n# flowfpga regress over ssh \S+@127\.0\.0\.1 port \d+: virtual board .*\n1\.\.6\n/);
    t.equal(r.stdout.match(/^ok \d+ - /gm)?.length, 6);
    t.match(fs.readFileSync(report, 'utf8'), /tests="6" failures="0"/);
    const nums = [...r.stdout.matchAll(/^ok \d+ - ([^#\n]+?) #[\s\S]*?wall_ms: (\d+)\n  board_ms: (\d+)/gm)].map((m) => ({ name: m[1], wall: Number(m[2]), board: Number(m[3]) }));
    const wall = nums.reduce((s, n) => s + n.wall, 0);
    const board = nums.reduce((s, n) => s + n.board, 0);
    t.comment(`over ssh: ${wall} ms of request wall time for ${board} ms of board time (${(wall / board).toFixed(2)}x); ${nums.map((n) => `${n.name} ${n.wall}/${n.board}`).join(', ')}`);
  });

  t.test('a remote command that is not an agent: one line, non-zero exit', async (t) => {
    const r = await runCli(['regress', ...sshArgs, '--agent-command', 'exit 3', '--cases', 'golden:up2', '--timeout', '30']);
    t.equal(r.code, 1);
    t.match(r.stderr, /^flowfpga: link to the board closed during 'hello': ssh exited with code 3 \(hint: /m);
  });
}
