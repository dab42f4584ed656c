// systemd/: the unit passes `systemd-analyze verify` (as shipped and as installed), carries the settings the
// service needs (notify + watchdog, restart, own user, hardening that keeps the devices), and `flowfpga
// install-service` puts unit, udev rules, environment file and the service user into a temporary root.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildProgram } from '../src/cli/main.js';
import { packageRoot } from '../src/paths.js';
import { applyInstall, planInstall, renderUnit, UNIT_CLI, UNIT_NODE } from '../src/service/install.js';
import { runCli } from './helpers/cli.js';

const SYSTEMD = path.join(packageRoot(), 'systemd');
const UNIT = path.join(SYSTEMD, 'flowfpga.service');
const unitText = fs.readFileSync(UNIT, 'utf8');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flowfpga-install-'));
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));

const has = (cmd: string): boolean => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const needs = (cmd: string): string | false => (has(cmd) || process.env.CI ? false : `${cmd} absent (Debian package systemd; CI installs it and fails instead)`);

function verify(file: string): { status: number | null; out: string } {
  const r = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}`.trim() };
}

/** [Section] → key → values (keys may repeat). */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const out = new Map<string, Map<string, string[]>>();
  let sec: Map<string, string[]> | undefined;
  for (const raw of text.split('\n')) {
    const l = raw.trim();
    if (!l || l.startsWith('#')) continue;
    const s = /^\[(.+)\]$/.exec(l);
    if (s) {
      out.set(s[1]!, (sec = new Map()));
      continue;
    }
    const kv = /^([A-Za-z]+)=(.*)$/.exec(l);
    if (!kv || !sec) throw new Error(`not a unit line: ${l}`);
    sec.set(kv[1]!, [...(sec.get(kv[1]!) ?? []), kv[2]!]);
  }
  return out;
}

t.test('systemd-analyze verify systemd/flowfpga.service is clean', { skip: needs('systemd-analyze') }, async (t) => {
  const r = verify(UNIT);
  t.equal(r.status, 0, r.out);
  t.equal(r.out, '', 'no warnings');
  // The check is real: a typo and a missing binary are reported.
  const bad = path.join(dir, 'bad.service');
  fs.writeFileSync(bad, unitText.replace('Type=notify', 'Type=notify\nWatchdogSecs=30s').replace(`ExecStart=${UNIT_NODE}`, 'ExecStart=/nonexistent/node'));
  const b = verify(bad);
  t.match(b.out, /Unknown key '?WatchdogSecs'?/);
  t.match(b.out, /\/nonexistent\/node is not executable/);
});

t.test('the unit: notify + watchdog, restart on failure, own user, hardening that keeps the devices', async (t) => {
  const u = parseUnit(unitText);
  const s = u.get('Service')!;
  const one = (k: string) => s.get(k)?.[0];
  t.equal(one('Type'), 'notify');
  t.equal(one('NotifyAccess'), 'main');
  t.match(one('WatchdogSec'), /^\d+s$/);
  t.equal(one('Restart'), 'on-failure');
  t.equal(one('User'), 'flowfpga');
  t.equal(one('EnvironmentFile'), '/etc/flowfpga/flowfpga.env');
  t.notOk(s.has('PrivateDevices'), 'no PrivateDevices (it hides /dev/uio*, /dev/udmabuf*, /dev/video*)');
  t.notOk(s.has('MemoryDenyWriteExecute'), 'no MemoryDenyWriteExecute (V8 JIT)');
  t.equal(one('DevicePolicy'), 'closed');
  t.same(s.get('DeviceAllow'), ['char-uio rw', 'char-u-dma-buf rw', 'char-udmabuf rw', 'char-video4linux rw', '/dev/mem rw']);
  for (const k of ['ProtectSystem', 'ProtectHome', 'PrivateTmp', 'NoNewPrivileges', 'ProtectKernelModules', 'ProtectControlGroups', 'RestrictAddressFamilies', 'LockPersonality']) {
    t.ok(s.has(k), `${k} set`);
  }
  t.equal(u.get('Install')!.get('WantedBy')?.[0], 'multi-user.target');
  // Every variable the unit uses is set in the environment file.
  const env = fs.readFileSync(path.join(SYSTEMD, 'flowfpga.env'), 'utf8');
  const defined = new Set([...env.matchAll(/^([A-Z_]+)=/gm)].map((m) => m[1]));
  const used = new Set([...unitText.matchAll(/\$\$?\{?([A-Z_]+)\}?/g)].map((m) => m[1]));
  t.same([...used].filter((v) => !defined.has(v)), [], `used: ${[...used].join(', ')}`);
  for (const k of ['FLOWFPGA_CAMERA', 'FLOWFPGA_MODEL', 'FLOWFPGA_BOARD', 'FLOWFPGA_PORT', 'FLOWFPGA_OVERLAY']) t.ok(defined.has(k), `${k} in the environment file`);
  t.match(env, /^FLOWFPGA_BOARD=(pynq-z2|ultra96v2|zcu104)$/m, 'a real board: FLOWFPGA_BOARD is also read by --board auto');
});

t.test('ExecStart/ExecStartPre name only commands and options that exist', async (t) => {
  const program = buildProgram();
  const s = parseUnit(unitText).get('Service')!;
  const lines = [...(s.get('ExecStart') ?? []), ...(s.get('ExecStartPre') ?? [])];
  const missing: string[] = [];
  for (const l of lines) {
    const m = new RegExp(`${UNIT_CLI.replace(/[./]/g, '\\$&')} ([a-z-]+)(.*)`).exec(l);
    t.ok(m, `runs the CLI: ${l}`);
    const cmd = program.commands.find((c) => c.name() === m![1]);
    t.ok(cmd, `flowfpga ${m![1]} exists`);
    for (const o of m![2]!.matchAll(/--[a-z-]+/g)) if (!cmd?.options.some((x) => x.long === o[0])) missing.push(`${m![1]} ${o[0]}`);
  }
  // --camera and --serve come from the camera and serve branches; until they are merged this stays a todo.
  const pending = missing.filter((m) => /^run --(camera|serve)$/.test(m));
  t.same(missing.filter((m) => !pending.includes(m)), [], 'every other option exists');
  t.test('run --camera and --serve exist', { todo: pending.length ? `needs ${pending.join(', ')} (other branches)` : false }, async (t) => {
    t.same(pending, []);
  });
});

t.test('udev rules: the service group gets the engine UIO, u-dma-buf (+ sync attributes); cameras stay video', async (t) => {
  const rules = fs.readFileSync(path.join(SYSTEMD, 'flowfpga.rules'), 'utf8').split('\n').filter((l) => l.trim() && !l.startsWith('#'));
  // Each rule: comma-separated KEY[{attr}] op "value" pairs.
  for (const r of rules) {
    for (const part of r.split(/,\s*(?=[A-Z]+(?:\{[^}]*\})?\s*(?:==|!=|\+=|:=|=))/)) {
      t.match(part, /^[A-Z]+(\{[^}]+\})?(==|!=|\+=|:=|=)"[^"]*"$/, `well-formed: ${part}`);
    }
  }
  const rule = (sub: string) => rules.find((r) => r.includes(`SUBSYSTEM=="${sub}"`)) ?? '';
  t.match(rule('uio'), /ATTR\{name\}=="flowfpga_engine".*GROUP="flowfpga".*MODE="0660"/);
  t.match(rule('u-dma-buf'), /GROUP="flowfpga".*MODE="0660".*chgrp flowfpga sync_offset sync_size sync_direction sync_for_cpu sync_for_device/);
  t.match(rule('video4linux'), /GROUP="video"/);
  t.notMatch(rules.join('\n'), /MODE="0666"/);
});

t.test('flowfpga install-service --root DIR: files, rendered paths, service user; settings kept on reinstall', async (t) => {
  const root = path.join(dir, 'root');
  const r = await runCli(['install-service', '--root', root]);
  t.equal(r.code, 0, r.stderr);
  const at = (p: string) => path.join(root, p);
  for (const f of ['etc/systemd/system/flowfpga.service', 'etc/flowfpga/flowfpga.env', 'etc/udev/rules.d/60-flowfpga.rules', 'etc/sysusers.d/flowfpga.conf']) {
    t.match(r.stdout, new RegExp(`^wrote ${at(f).replace(/[./]/g, '\\$&')}$`, 'm'));
    t.equal(fs.statSync(at(f)).mode & 0o777, 0o644, f);
  }
  const unit = fs.readFileSync(at('etc/systemd/system/flowfpga.service'), 'utf8');
  const cli = path.join(packageRoot(), 'bin', 'flowfpga.js');
  t.match(unit, `ExecStart=${process.execPath} ${cli} run `);
  t.notMatch(unit, UNIT_CLI);
  t.match(r.stdout, /^next: on the target: systemctl daemon-reload/m);
  if (has('systemd-sysusers')) {
    t.match(r.stdout, new RegExp(`^ran: systemd-sysusers --root=${root.replace(/[./]/g, '\\$&')} ${root.replace(/[./]/g, '\\$&')}/etc/sysusers\\.d/flowfpga\\.conf$`, 'm'));
    t.match(fs.readFileSync(at('etc/passwd'), 'utf8'), /^flowfpga:x:\d+:\d+:flowfpga optical flow:\/var\/lib\/flowfpga:/m);
    t.match(fs.readFileSync(at('etc/group'), 'utf8'), /^video:x:\d+:flowfpga$/m, 'member of video for the camera');
  } else {
    t.match(r.stdout, /^skipped: systemd-sysusers/m);
  }
  if (has('systemd-analyze')) {
    const v = verify(at('etc/systemd/system/flowfpga.service'));
    t.equal(v.status, 0, v.out);
    t.equal(v.out, '', 'the installed unit verifies too');
  }

  fs.writeFileSync(at('etc/flowfpga/flowfpga.env'), 'FLOWFPGA_PORT=9000\n');
  const again = await runCli(['install-service', '--root', root]);
  t.equal(again.code, 0, again.stderr);
  t.match(again.stdout, /^kept .*flowfpga\.env \(settings already there\)$/m);
  t.match(again.stdout, /^replaced .*flowfpga\.service$/m);
  t.equal(fs.readFileSync(at('etc/flowfpga/flowfpga.env'), 'utf8'), 'FLOWFPGA_PORT=9000\n', 'administrator settings survive');
});

t.test('--dry-run changes nothing; errors are one line', async (t) => {
  const root = path.join(dir, 'dry');
  const r = await runCli(['install-service', '--dry-run', '--root', root]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^would write .*etc\/systemd\/system\/flowfpga\.service \(\d+ bytes\)$/m);
  t.match(r.stdout, /^would run: systemd-sysusers --root=/m);
  t.notOk(fs.existsSync(root), 'nothing created');
  const live = planInstall({ prefix: packageRoot() });
  t.same(live.commands.map((c) => c[0]), ['systemd-sysusers', 'udevadm', 'udevadm', 'systemctl'], 'on / the rules, users and units are reloaded');
  t.same(applyInstall(live, { dryRun: true }).filter((l) => l.startsWith('would run')).length, 4);

  const badPrefix = await runCli(['install-service', '--root', root, '--prefix', dir]);
  t.equal(badPrefix.code, 2);
  t.match(badPrefix.stderr, /^flowfpga: no flowfpga CLI at .*bin\/flowfpga\.js \(hint: pass the flowfpga installation directory with --prefix\)\n$/);
  const ro = path.join(dir, 'ro-file');
  fs.writeFileSync(ro, '');
  const notDir = await runCli(['install-service', '--root', ro]);
  t.equal(notDir.code, 2);
  t.match(notDir.stderr, /^flowfpga: cannot write .*ro-file\/etc\/systemd\/system\/flowfpga\.service \(E[A-Z]+\) \(hint: pick a writable --root DIR\)\n$/);
});

t.test('renderUnit: this installation\'s paths; a package under /home keeps ProtectHome read-only; unsafe paths refused', async (t) => {
  const u = renderUnit(unitText, '/usr/local/bin/node', '/home/xilinx/flowfpga/bin/flowfpga.js');
  t.match(u, 'ExecStart=/usr/local/bin/node /home/xilinx/flowfpga/bin/flowfpga.js run');
  t.match(u, 'exec /usr/local/bin/node /home/xilinx/flowfpga/bin/flowfpga.js load');
  t.match(u, /^ProtectHome=read-only$/m);
  t.match(renderUnit(unitText, '/usr/bin/node', '/opt/ff/bin/flowfpga.js'), /^ProtectHome=yes$/m);
  t.throws(() => renderUnit(unitText, '/usr/bin/node', '/opt/my flowfpga/bin/flowfpga.js'), { name: 'UserError', message: /cannot go into a unit file unquoted/ });
  t.throws(() => applyInstall({ root: path.join(dir, 'f'), files: [], commands: [['systemd-sysusers', '--root=x']], next: [] }, { run: () => ({ status: 1, stderr: 'Failed to take /etc/passwd lock\n', missing: false }) }), {
    name: 'UserError',
    message: 'systemd-sysusers --root=x failed: Failed to take /etc/passwd lock',
  });
  t.same(applyInstall({ root: '/', files: [], commands: [['no-such-tool-here']], next: [] }), ['skipped: no-such-tool-here (no-such-tool-here not found; run it on the target)']);
});
