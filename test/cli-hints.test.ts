// Every hint names an option or command that exists: collects every string in src/ that a user can read (UserError
// messages and hints, option and command descriptions, notices, log lines — every string literal and template,
// parsed with the TypeScript compiler) and checks each `--option` and `flowfpga <command>` it mentions against the
// commander program itself.
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import type { Command } from 'commander';
import { buildProgram } from '../src/cli/main.js';

const SRC = path.resolve(import.meta.dirname, '../src');

interface Text {
  where: string;
  text: string;
}

function tsFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? tsFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** argv for a child process (the virtual board binary, g++): a bare option token in an array or a push() call. */
function isChildArgv(n: ts.Node, text: string): boolean {
  if (!/^--[\w-]+(=.*)?$/.test(text)) return false;
  const p = n.parent;
  if (ts.isArrayLiteralExpression(p)) return true;
  return ts.isCallExpression(p) && ts.isPropertyAccessExpression(p.expression) && p.expression.name.text === 'push';
}

/** Every string literal and template in a source text; `${…}` parts become "…". */
export function stringsIn(file: string, source: string): Text[] {
  const sf = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, true);
  const out: Text[] = [];
  const visit = (n: ts.Node): void => {
    let text: string | undefined;
    if (ts.isStringLiteral(n) || ts.isNoSubstitutionTemplateLiteral(n)) text = n.text;
    else if (ts.isTemplateExpression(n)) text = n.head.text + n.templateSpans.map((s) => '…' + s.literal.text).join('');
    if (text !== undefined && !isChildArgv(n, text)) {
      out.push({ where: `${path.relative(SRC, file)}:${sf.getLineAndCharacterOfPosition(n.getStart()).line + 1}`, text });
    }
    if (ts.isTemplateExpression(n)) n.templateSpans.forEach((s) => visit(s.expression));
    else ts.forEachChild(n, visit);
  };
  visit(sf);
  return out;
}

/** Words that follow "flowfpga" in prose as a noun or adjective ("a flowfpga engine"), not as a command. */
const PROSE = new Set(['or', 'under', 'installation', 'engine', 'engines', 'overlay', 'model', 'models', 'runtime', 'reads', 'implements', 'service', 'user', 'group', 'version', 'with', 'process', 'live']);

/** Tools whose options hints may name ("systemctl enable --now flowfpga"); flowfpga's own are checked. */
const OTHER_TOOLS = ['v4l2-ctl', 'systemctl', 'udevadm', 'journalctl', 'systemd-sysusers', 'systemd-analyze', 'make', 'bootgen', 'npm', 'apt-get', 'git'];

/** True when the command that an option at the end of `before` belongs to is another tool's (same clause). */
function ofOtherTool(before: string): boolean {
  const clause = before.split(/[;&|()]|, |: /).pop() ?? '';
  const words = clause.trim().split(/\s+/);
  const cmd = words.findLast((w) => w === 'flowfpga' || OTHER_TOOLS.includes(w));
  return cmd !== undefined && cmd !== 'flowfpga';
}

export function unknownReferences(texts: Text[], program: Command): string[] {
  const commands = new Map(program.commands.map((c) => [c.name(), c]));
  const options = new Set<string>(['--help', '--version']);
  const all = (c: Command): Command[] => [c, ...c.commands.flatMap(all)];
  for (const c of all(program)) for (const o of c.options) if (o.long) options.add(o.long);
  const bad: string[] = [];
  for (const { where, text } of texts) {
    // The live page's HTML/CSS/JS (CSS custom properties are `--name`) is not a hint.
    if (/^\s*<!doctype html/i.test(text)) continue;
    for (const m of text.matchAll(/(?<![\w-])--([a-z][\w-]*)/g)) {
      if (ofOtherTool(text.slice(0, m.index))) continue;
      if (!options.has(`--${m[1]}`)) bad.push(`${where}: --${m[1]} is no option of any command ("${text}")`);
    }
    for (const m of text.matchAll(/(?<![\w./-])flowfpga ([a-z][\w-]*)/g)) {
      if (!commands.has(m[1]!) && !PROSE.has(m[1]!)) bad.push(`${where}: flowfpga ${m[1]} is no command ("${text}")`);
    }
  }
  return bad;
}

t.test('every --option and flowfpga <command> named in src/ exists in the commander program', async (t) => {
  const texts = tsFiles(SRC).flatMap((f) => stringsIn(f, fs.readFileSync(f, 'utf8')));
  const mentioning = texts.filter((x) => /--[a-z]|flowfpga [a-z]/.test(x.text));
  t.ok(mentioning.length > 50, `${mentioning.length} strings mention options or commands`);
  t.ok(texts.some((x) => x.where.startsWith('driver/hwh.ts') && x.text.includes('--engine-instance')), 'UserError hints are among them');
  t.same(unknownReferences(texts, buildProgram()), []);
});

t.test('the check catches the hints that used to be wrong', async (t) => {
  const program = buildProgram();
  const probe = (text: string): string[] => unknownReferences([{ where: 'x.ts:1', text }], program);
  t.same(probe('use --virtual for the virtual board'), ['x.ts:1: --virtual is no option of any command ("use --virtual for the virtual board")']);
  t.same(probe('load a bitstream built from this release (flowfpga build)'), ['x.ts:1: flowfpga build is no command ("load a bitstream built from this release (flowfpga build)")']);
  t.same(probe('or use polling (--irq off)').length, 1);
  t.same(probe('next: systemctl enable --now flowfpga; udevadm control --reload-rules'), [], "other tools' options");
  t.same(probe('systemctl daemon-reload && flowfpga load --nope').length, 1, 'a flowfpga clause after another tool is checked');
  t.same(probe('select one with --engine-instance; then flowfpga load BIT --hwh HWH'), [], 'options of load and device commands');
  t.same(probe('not a flowfpga engine; FLOWFPGA_EMU_DIR=… flowfpga … --board emu'), [], 'prose and placeholders');
  // Child-process argv ('--dir' for the virtual board binary) is not a hint; a sentence with the same token is.
  const src = "args.push('--ddr-base', x); const a = ['--cleanup']; throw new UserError('bad', 'pass --ddr-base');";
  t.same(stringsIn('/x.ts', src).map((s) => s.text), ['bad', 'pass --ddr-base']);
});
