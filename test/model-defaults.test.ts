// Per-board default models (models/DEFAULT: a NAME line and BOARD NAME lines): parsing, which board's line applies
// for each --board / FLOWFPGA_BOARD, the one announcing line, `flowfpga models`, and the shipped file itself.
import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultModelName, listModels, modelsDir, readDefaults, resolveModel } from '../src/model/registry.js';
import { boardDefaults, chooseModel, defaultsBoard } from '../src/cli/model-choice.js';
import { BOARDS, isBoardName } from '../src/driver/boards.js';
import { flownetsQ } from '../src/model/arch.js';
import { encodeModel, loadModelFile } from '../src/model/format.js';
import { randomModel } from '../src/reference/index.js';
import { runCli } from './helpers/cli.js';
import { tempDir } from './helpers/tmp.js';

/** A models folder with two tiny models of different weights and the given DEFAULT text (none: no file). */
function modelsFolder(t: Parameters<typeof tempDir>[0], def?: string): string {
  const dir = tempDir(t, 'ffdefaults-');
  for (const [name, seed] of [['tiny-a', 3], ['tiny-b', 4]] as const) {
    const m = randomModel(flownetsQ({ width: 1 / 16 }), seed);
    m.name = name;
    m.nativeSize = [64, 64];
    writeFileSync(join(dir, `${name}.ffq`), encodeModel(m));
  }
  if (def !== undefined) writeFileSync(join(dir, 'DEFAULT'), def);
  return dir;
}

t.test('models/DEFAULT: a NAME line, BOARD NAME lines, comments; errors name the line', async (t) => {
  const dir = modelsFolder(t, '# defaults\ntiny-a\n\nzcu104 tiny-b   # the wider model\nemu  tiny-b\n');
  t.same(readDefaults(dir), { all: 'tiny-a', boards: { zcu104: 'tiny-b', emu: 'tiny-b' } });
  t.equal(defaultModelName(dir), 'tiny-a');
  t.equal(defaultModelName(dir, 'zcu104'), 'tiny-b');
  t.equal(defaultModelName(dir, 'pynq-z2'), 'tiny-a', 'a board without its own line gets the NAME line');
  t.equal(defaultModelName(dir, 'toString'), 'tiny-a', 'no prototype names');
  t.equal(resolveModel(undefined, dir, 'zcu104').name, 'tiny-b');
  t.equal(resolveModel('default', dir, 'zcu104').name, 'tiny-b', "'default' is the same as no --model");
  t.equal(resolveModel('tiny-a', dir, 'zcu104').name, 'tiny-a', 'a named model wins over the board default');

  t.equal(defaultModelName(modelsFolder(t)), 'tiny-a', 'no DEFAULT file: the first shipped model');
  t.same(readDefaults(modelsFolder(t, 'tiny-b\n')), { all: 'tiny-b', boards: {} }, 'the old one-line file still reads');
  const bad = (text: string, re: RegExp): void => {
    const d = modelsFolder(t, text);
    t.throws(() => readDefaults(d), { name: 'UserError', message: re }, JSON.stringify(text));
  };
  bad('tiny-a\nzcu104 tiny-b extra\n', /DEFAULT:2: 'zcu104 tiny-b extra' is not a first 'NAME' line or a new 'BOARD NAME' line/);
  bad('tiny-a\ntiny-b\n', /DEFAULT:2: 'tiny-b'/);
  bad('tiny-a\nzcu104 tiny-a\nzcu104 tiny-b\n', /DEFAULT:3:/);
  t.throws(() => boardDefaults(modelsFolder(t, 'tiny-a\nzcu102 tiny-b\n')), { name: 'UserError', message: /names an unknown board 'zcu102'/ });
});

t.test('which board line applies: --board NAME, FLOWFPGA_BOARD under auto; none for ref, an unnamed engine or a bad name', async (t) => {
  t.equal(defaultsBoard('zcu104', {}), 'zcu104');
  t.equal(defaultsBoard('emu', {}), 'emu');
  t.equal(defaultsBoard('ref', { FLOWFPGA_BOARD: 'zcu104' }), undefined, 'the reference is no board');
  t.equal(defaultsBoard('auto', { FLOWFPGA_BOARD: 'zcu104' }), 'zcu104');
  t.equal(defaultsBoard('auto', {}), undefined);
  t.equal(defaultsBoard('zcu999', {}), undefined, 'an unknown board fails where the device opens');
  t.throws(() => defaultsBoard('auto', { FLOWFPGA_BOARD: 'zcu999' }), { name: 'UserError', message: /FLOWFPGA_BOARD='zcu999' is not a board/ });

  const dir = modelsFolder(t, 'tiny-a\nzcu104 tiny-b\n');
  const c = chooseModel(undefined, 'auto', { FLOWFPGA_BOARD: 'zcu104' }, dir);
  t.equal(c.model.name, 'tiny-b');
  t.equal(c.note, 'model tiny-b: the default on Xilinx ZCU104 (models/DEFAULT; --model NAME chooses another)');
  t.same(chooseModel(undefined, 'pynq-z2', {}, dir).note, undefined, 'the NAME line is not announced');
  t.equal(chooseModel(undefined, 'pynq-z2', {}, dir).model.name, 'tiny-a');
  t.equal(chooseModel('tiny-a', 'zcu104', {}, dir).note, undefined, 'a named model is not announced');
  t.equal(chooseModel('default', 'zcu104', {}, dir).model.name, 'tiny-b');
});

t.test('run, eval and models follow the board line; the reference keeps the NAME line', async (t) => {
  const dir = modelsFolder(t, 'tiny-a\nemu tiny-b\n');
  const prev = process.env.FLOWFPGA_MODELS;
  process.env.FLOWFPGA_MODELS = dir;
  t.teardown(() => (prev === undefined ? delete process.env.FLOWFPGA_MODELS : (process.env.FLOWFPGA_MODELS = prev)));
  const out = tempDir(t, 'ffdefaults-out-');
  const run = async (board: string): Promise<{ model: string; err: string }> => {
    const r = await runCli(['run', '--board', board, '--out', join(out, board), '--limit', '1', '--no-png', '--json', '--refine', 'off']);
    t.equal(r.code, 0, r.stderr);
    return { model: JSON.parse(r.stdout.trim().split('\n').at(-1)!).model, err: r.stderr };
  };
  const emu = await run('emu');
  t.equal(emu.model, 'tiny-b');
  t.match(emu.err, /^flowfpga: model tiny-b: the default on virtual board \(models Ultra96-V2\) \(models\/DEFAULT; --model NAME chooses another\)$/m);
  const ref = await run('ref');
  t.equal(ref.model, 'tiny-a');
  t.notMatch(ref.err, /the default on/);
  const ev = await runCli(['eval', '--dataset', 'chairs:samples', '--board', 'emu', '--limit', '1', '--json', '--refine', 'off']);
  t.equal(ev.code, 0, ev.stderr);
  t.equal(JSON.parse(ev.stdout).model, 'tiny-b');
  t.match(ev.stderr, /^eval: model tiny-b: the default on virtual board/m);

  const list = await runCli(['models', '--json']);
  t.equal(list.code, 0, list.stderr);
  const rows = JSON.parse(list.stdout).models as { name: string; default: boolean; default_on: string[] }[];
  t.same(rows.map((r) => [r.name, r.default, r.default_on]), [['tiny-a', true, []], ['tiny-b', false, ['emu']]]);
  const text = await runCli(['models']);
  t.match(text.stdout, /^\* tiny-a .*KiB\n {2}tiny-b .*KiB {2}\(default on virtual board \(models Ultra96-V2\)\)\n$/);

  writeFileSync(join(dir, 'DEFAULT'), 'tiny-a\nzcu102 tiny-b\n');
  const bad = await runCli(['models']);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /^flowfpga: .*DEFAULT names an unknown board 'zcu102' \(hint: board lines start with one of /);
});

t.test('the shipped models/DEFAULT: every line names a shipped model and a known board', async (t) => {
  const d = boardDefaults();
  const names = new Set(listModels().map((m) => m.name));
  t.ok(d.all && names.has(d.all), `NAME line ${d.all} is shipped`);
  for (const [board, name] of Object.entries(d.boards)) {
    t.ok(isBoardName(board) && !BOARDS[board].virtual, `${board} is a real board`);
    t.ok(names.has(name), `${board}: ${name} is shipped`);
    const meta = loadModelFile(join(modelsDir(), `${name}.ffq`)).meta;
    t.equal(meta.coarse_for, undefined, `${name} is no coarse-pass partner`);
    t.equal(meta.refine_for, undefined, `${name} is no refinement partner`);
  }
  t.match(readFileSync(join(modelsDir(), 'DEFAULT'), 'utf8'), /^flownets-q-w0\.25-8bit$/m, 'the virtual board and the reference keep the Quick-start model');
});
