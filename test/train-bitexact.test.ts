// Cross-language check: models trained and exported by train/ (Python), run by the Python integer simulation and by
// the TypeScript reference on the same frames, must give identical int16 flow. Also: the TS loader accepts every
// file train/export.py writes, and run_intsim (the CLI the HLS/board comparisons use) writes the same bytes.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadModelFile } from '../src/model/format.js';
import { forward } from '../src/reference/forward.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const PY = '/usr/bin/python3';

interface FixtureCase { name: string; h: number; w: number; decoder: string; bits: string }

t.test('Python export + intsim == TypeScript loader + reference, bit for bit', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ffq-bitexact-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  execFileSync(PY, ['-m', 'train.bitexact_fixture', dir], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'], timeout: 120_000 });
  const cases = JSON.parse(readFileSync(join(dir, 'cases.json'), 'utf8')) as FixtureCase[];
  t.equal(cases.length, 3);
  for (const c of cases) {
    const model = loadModelFile(join(dir, `${c.name}.ffq`));
    t.equal(model.arch.decoder, c.decoder, `${c.name}: decoder`);
    const frames = new Uint8Array(readFileSync(join(dir, `${c.name}.frames.u8`)));
    const pyBytes = readFileSync(join(dir, `${c.name}.flow.i16`));
    const py = new Int16Array(pyBytes.buffer, pyBytes.byteOffset, pyBytes.byteLength / 2);
    const ts = forward(model, frames, c.h, c.w).flow;
    t.equal(ts.length, 2 * c.h * c.w, `${c.name}: flow size`);
    let diff = 0;
    let first = -1;
    for (let i = 0; i < ts.length; i++) {
      if (ts[i] !== py[i]) {
        diff++;
        if (first < 0) first = i;
      }
    }
    t.equal(diff, 0, `${c.name}: ${diff} int16 flow values differ` + (first >= 0 ? ` (first at ${first}: ts ${ts[first]} py ${py[first]})` : ''));
    // A trained model must produce a non-constant flow, otherwise the comparison proves little.
    let min = Infinity;
    let max = -Infinity;
    for (const v of ts) { if (v < min) min = v; if (v > max) max = v; }
    t.ok(max > min, `${c.name}: flow is not constant`);
  }
  // The CLI used for board / HLS comparisons writes exactly the same bytes.
  const c = cases[0];
  const out = join(dir, 'cli.i16');
  execFileSync(PY, ['-m', 'train.run_intsim', '--model', join(dir, `${c.name}.ffq`), '--input',
    join(dir, `${c.name}.frames.u8`), '--size', `${c.h}x${c.w}`, '--out', out], { cwd: ROOT, stdio: 'pipe', timeout: 60_000 });
  t.same(readFileSync(out), readFileSync(join(dir, `${c.name}.flow.i16`)));
});
