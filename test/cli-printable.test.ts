// Names and text from files never reach the terminal raw: a model's name (or a file name) carrying ESC sequences,
// CR, BEL or bidi overrides is shown with visible escapes (issue 13 item 7).
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { flownetsQ } from '../src/model/arch.js';
import { encodeModel } from '../src/model/format.js';
import { randomModel } from '../src/reference/index.js';
import { printable } from '../src/text.js';
import { runCli } from './helpers/cli.js';
import { tempDir } from './helpers/tmp.js';

const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/;

t.test('printable() escapes controls and bidi overrides, keeps other text', async (t) => {
  t.equal(printable('a\x1b[2Jb\rc\x07d\x00e\x7f\x9b\n'), 'a\\x1b[2Jb\\x0dc\\x07d\\x00e\\x7f\\x9b\\x0a');
  t.equal(printable('abc\u202etxt.exe\u2066'), 'abc\\u202etxt.exe\\u2066');
  t.equal(printable('flownets-q 8bit → Zürich ✓'), 'flownets-q 8bit → Zürich ✓');
});

t.test('info, plan and error lines show a hostile model name and path escaped', async (t) => {
  const dir = tempDir(t, 'ff-printable-');
  const m = randomModel(flownetsQ({ width: 1 / 16, bits: 6 }), 5);
  m.name = 'evil\x1b[2J\x1b]0;owned\x07\rname\u202e';
  m.nativeSize = [64, 128];
  const file = join(dir, 'm\x1b[31m.ffq');
  writeFileSync(file, encodeModel(m));

  const info = await runCli(['info', '--model', file]);
  t.equal(info.code, 0, info.stderr);
  t.notMatch(info.stdout, CONTROL, 'no control characters in the output');
  t.match(info.stdout, 'evil\\x1b[2J\\x1b]0;owned\\x07\\x0dname\\u202e');

  const plan = await runCli(['plan', '--board', 'pynq-z2', '--model', file]);
  t.equal(plan.code, 0, plan.stderr);
  t.notMatch(plan.stdout, CONTROL);
  t.match(plan.stdout, 'm\\x1b[31m.ffq');

  const missing = await runCli(['info', '--model', join(dir, 'gone\x1b[5m\x07.ffq')]);
  t.equal(missing.code, 2);
  t.notMatch(missing.stderr, CONTROL, 'the error line too');
  t.match(missing.stderr, 'gone\\x1b[5m\\x07.ffq');
  t.equal(missing.stderr.split('\n').length, 2, 'one line');
});
