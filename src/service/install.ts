// flowfpga install-service: puts the systemd unit, the udev rules, the environment file and the service user
// (sysusers.d) of systemd/ in place — into / on a board, or into any directory (--root) for an image or a test —
// with ExecStart pointing at this installation, then runs what makes them take effect.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { UserError } from '../errors.js';

/** The paths systemd/flowfpga.service carries; install-service rewrites them to the installation it runs from. */
export const UNIT_NODE = '/usr/bin/node';
export const UNIT_CLI = '/opt/flowfpga/bin/flowfpga.js';

export interface InstallFile {
  /** Absolute path on the target system (without --root). */
  target: string;
  content: string;
  mode: number;
  /** Settings the administrator edits: never overwritten. */
  keepExisting?: boolean;
}

export interface InstallPlan {
  root: string;
  files: InstallFile[];
  /** Commands that make the files take effect (argv), run in order. */
  commands: string[][];
  /** Commands for later, printed only. */
  next: string[];
}

export interface InstallOptions {
  /** Install tree root (default /). */
  root?: string;
  /** The flowfpga installation the service runs (its bin/flowfpga.js). */
  prefix: string;
  /** The Node binary (default: the one running now). */
  node?: string;
  /** Where systemd/ templates are (default prefix/systemd). */
  templates?: string;
}

const SAFE_PATH = /^\/[\w@%+=:,./-]*$/;

function checkUnitPath(p: string, what: string): void {
  if (!SAFE_PATH.test(p)) {
    throw new UserError(`${what} ${p} cannot go into a unit file unquoted (absolute path without spaces or quotes needed)`, 'install flowfpga under a plain path such as /opt/flowfpga and pass it with --prefix');
  }
}

/** The unit with this installation's node and CLI; ProtectHome=read-only when the package lives under a home. */
export function renderUnit(template: string, node: string, cli: string): string {
  checkUnitPath(node, 'node binary');
  checkUnitPath(cli, 'flowfpga CLI');
  let s = template.split(UNIT_NODE).join(node).split(UNIT_CLI).join(cli);
  if (/^\/(home|root)(\/|$)/.test(cli)) s = s.replace(/^ProtectHome=yes$/m, 'ProtectHome=read-only');
  return s;
}

function readTemplate(dir: string, name: string): string {
  try {
    return fs.readFileSync(path.join(dir, name), 'utf8');
  } catch (e) {
    throw new UserError(`cannot read ${path.join(dir, name)}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, 'reinstall flowfpga: the package ships systemd/');
  }
}

export function planInstall(o: InstallOptions): InstallPlan {
  const root = path.resolve(o.root ?? '/');
  const prefix = path.resolve(o.prefix);
  const cli = path.join(prefix, 'bin', 'flowfpga.js');
  if (!fs.existsSync(cli)) throw new UserError(`no flowfpga CLI at ${cli}`, 'pass the flowfpga installation directory with --prefix');
  const node = o.node ?? process.execPath;
  const t = o.templates ?? path.join(prefix, 'systemd');
  const files: InstallFile[] = [
    { target: '/etc/systemd/system/flowfpga.service', content: renderUnit(readTemplate(t, 'flowfpga.service'), node, cli), mode: 0o644 },
    { target: '/etc/flowfpga/flowfpga.env', content: readTemplate(t, 'flowfpga.env'), mode: 0o644, keepExisting: true },
    { target: '/etc/udev/rules.d/60-flowfpga.rules', content: readTemplate(t, 'flowfpga.rules'), mode: 0o644 },
    { target: '/etc/sysusers.d/flowfpga.conf', content: readTemplate(t, 'flowfpga.sysusers'), mode: 0o644 },
  ];
  const live = root === '/';
  const sysusers = live ? ['systemd-sysusers', '/etc/sysusers.d/flowfpga.conf'] : ['systemd-sysusers', `--root=${root}`, path.join(root, 'etc/sysusers.d/flowfpga.conf')];
  const commands = live
    ? [
        sysusers,
        ['udevadm', 'control', '--reload-rules'],
        ['udevadm', 'trigger', '--action=add', '--subsystem-match=uio', '--subsystem-match=u-dma-buf', '--subsystem-match=udmabuf', '--subsystem-match=video4linux'],
        ['systemctl', 'daemon-reload'],
      ]
    : [sysusers];
  const next = live
    ? ['edit /etc/flowfpga/flowfpga.env (board, model, camera, port, overlay)', 'systemctl enable --now flowfpga', 'journalctl -u flowfpga -f']
    : [`on the target: systemctl daemon-reload && udevadm control --reload-rules && systemctl enable --now flowfpga`];
  return { root, files, commands, next };
}

export interface Runner {
  (argv: string[]): { status: number | null; stderr: string; missing: boolean };
}

const spawnRunner: Runner = (argv) => {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
  const missing = (r.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
  return { status: r.status, stderr: r.stderr ?? (r.error ? r.error.message : ''), missing };
};

/** Writes the plan's files under its root and runs its commands; returns one line per action. */
export function applyInstall(plan: InstallPlan, o: { dryRun?: boolean; run?: Runner } = {}): string[] {
  const out: string[] = [];
  const at = (target: string): string => path.join(plan.root, target);
  for (const f of plan.files) {
    const dest = at(f.target);
    const exists = fs.existsSync(dest);
    if (f.keepExisting && exists) {
      out.push(`${o.dryRun ? 'would keep' : 'kept'} ${dest} (settings already there)`);
      continue;
    }
    if (o.dryRun) {
      out.push(`would ${exists ? 'replace' : 'write'} ${dest} (${Buffer.byteLength(f.content)} bytes)`);
      continue;
    }
    try {
      fs.mkdirSync(path.dirname(dest), { recursive: true });
      fs.writeFileSync(dest, f.content, { mode: f.mode });
      fs.chmodSync(dest, f.mode);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
      throw new UserError(`cannot write ${dest} (${code})`, plan.root === '/' ? 'run as root: sudo flowfpga install-service' : 'pick a writable --root DIR');
    }
    out.push(`${exists ? 'replaced' : 'wrote'} ${dest}`);
  }
  const run = o.run ?? spawnRunner;
  for (const argv of plan.commands) {
    const line = argv.join(' ');
    if (o.dryRun) {
      out.push(`would run: ${line}`);
      continue;
    }
    const r = run(argv);
    if (r.missing) {
      out.push(`skipped: ${line} (${argv[0]} not found; run it on the target)`);
      continue;
    }
    if (r.status !== 0) {
      const why = r.stderr.trim().split('\n').filter(Boolean).pop() ?? `exit ${r.status}`;
      throw new UserError(`${line} failed: ${why}`, plan.root === '/' ? 'run as root on a systemd system: sudo flowfpga install-service' : 'check that --root DIR holds a writable etc/');
    }
    out.push(`ran: ${line}`);
  }
  for (const n of plan.next) out.push(`next: ${n}`);
  return out;
}
