// Runs the Python tests of train/ (unittest, /usr/bin/python3 with Debian python3-torch + numpy) so `npm test`
// covers the synthetic data generator, QAT model, integer simulation (incl. every golden vector), model file and
// training loop. Each module is its own subtest so a failure names the area.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
// Every train/tests/test_*.py, so a new module cannot be left out of `npm test`.
const MODULES = readdirSync(join(ROOT, 'train', 'tests'))
  .filter((f) => /^test_\w+\.py$/.test(f))
  .map((f) => f.slice(0, -3))
  .sort();
t.ok(MODULES.length >= 8, `found the Python test modules: ${MODULES.join(', ')}`);

for (const mod of MODULES) {
  t.test(`python train.tests.${mod}`, async (t) => {
    const r = spawnSync('/usr/bin/python3', ['-m', 'unittest', '-v', `train.tests.${mod}`], {
      cwd: ROOT, encoding: 'utf8', timeout: 240_000, env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
    });
    const out = `${r.stdout ?? ''}${r.stderr ?? ''}`;
    if (r.error) t.fail(`could not run /usr/bin/python3: ${r.error.message} (apt install python3-torch python3-numpy python3-pil)`);
    t.equal(r.status, 0, `${mod} passed` + (r.status === 0 ? '' : `\n${out.slice(-4000)}`));
    t.match(out, /\nOK/, `${mod} ran its tests`);
  });
}
