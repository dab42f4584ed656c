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
