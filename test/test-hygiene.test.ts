// Test hygiene: a test file run on its own leaves nothing behind in $TMPDIR (the suite runs on shared machines).
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));

for (const file of ['cli-emu.test.ts', 'model-format.test.ts']) {
  t.test(`${file} leaves no temp folders`, async (t) => {
    const tmp = mkdtempSync(join(tmpdir(), 'ff-hygiene-'));
    t.teardown(() => rmSync(tmp, { recursive: true, force: true }));
    // The same loaders tap gave this process (TypeScript), with TMPDIR (os.tmpdir()) pointing at an empty folder.
    const args = process.execArgv.filter((a) => !a.includes('processinfo'));
    const env = { ...process.env, TMPDIR: tmp, NODE_OPTIONS: '' };
    const r = spawnSync(process.execPath, [...args, join(here, file)], { cwd: join(here, '..'), env, encoding: 'utf8', timeout: 300_000 });
    t.equal(r.status, 0, `${file} passed: ${r.stderr.slice(-400)}${r.stdout.split('\n').filter((l) => /not ok/.test(l)).join('\n')}`);
    // v8-compile-cache-* is the TypeScript loader's cache, not the test's.
    t.same(readdirSync(tmp).filter((f) => !f.startsWith('v8-compile-cache')), [], 'TMPDIR is empty afterwards');
  });
}

t.test('no test asserts on wall-clock time or asserts right after a fixed sleep (the suite runs on loaded machines)', async (t) => {
  const { readFileSync } = await import('node:fs');
  const files = readdirSync(here).filter((f) => f.endsWith('.test.ts'));
  t.ok(files.length > 20, `${files.length} test files`);
  // An upper bound on elapsed time (`performance.now() - t0 < 1000`, `planMs < 1000`): timing belongs in bench/.
  const upper = /(?:(?:performance|Date)\.now\(\)\s*-\s*\w+|\b(?:ms|\w*Ms|\w*Us|elapsed\w*))\s*<[^<]/;
  // A fixed sleep whose only purpose is to let another process act, directly followed by an assertion.
  const sleepThenAssert = /(?:^|\n)[ \t]*await (?:sleep\(\d+\)|new Promise\(\(r\) => setTimeout\(r, \d+\)\));\s*\n\s*t\.(?:equal|ok|same|match|notOk)\(/;
  const bad: string[] = [];
  for (const f of files) {
    if (f === 'test-hygiene.test.ts') continue;
    const src = readFileSync(join(here, f), 'utf8');
    src.split('\n').forEach((line, i) => {
      if (/\bt\.(ok|equal|notOk)\(/.test(line) && upper.test(line)) bad.push(`${f}:${i + 1}: ${line.trim()}`);
    });
    const m = sleepThenAssert.exec(src);
    if (m) bad.push(`${f}:${src.slice(0, m.index).split('\n').length}: fixed sleep then assert`);
  }
  t.same(bad, [], 'wait for conditions with bounded polling instead; measure time in bench/');
});
