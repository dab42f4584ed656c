// The shipped model files themselves: each loads, and on a bundled sample pair the Python integer simulation
// (train/run_intsim.py) and the TypeScript reference give the same int16 flow, bit for bit. Their header's
// meta.epe (the integer EPE on the held-out synthetic pairs) and the one-command reproduction are recorded.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadModelFile } from '../src/model/format.js';
import { forward } from '../src/reference/forward.js';
import { readImage } from '../src/flow/image.js';
import { prepareInput } from '../src/flow/netinput.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const files = readdirSync(join(ROOT, 'models')).filter((f) => f.endsWith('.ffq')).sort();

t.test('every shipped model: Python integer simulation == TypeScript reference on sample 00001', async (t) => {
  t.ok(files.length >= 3, 'at least the 8-bit, 6-bit and mixed models');
  const dir = mkdtempSync(join(tmpdir(), 'ffq-shipped-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const [a, b] = await Promise.all(['00001_img1.ppm', '00001_img2.ppm'].map((f) => readImage(join(ROOT, 'samples', f))));
  for (const f of files) {
    const model = loadModelFile(join(ROOT, 'models', f));
    const [h, w] = model.nativeSize;
    const input = prepareInput(a, b, { width: w, height: h });
    t.same([input.height, input.width], [h, w], `${f}: sample fitted to the native size`);
    const raw = join(dir, 'pair.u8');
    writeFileSync(raw, input.data);
    const out = join(dir, `${f}.i16`);
    execFileSync('/usr/bin/python3', ['-m', 'train.run_intsim', '--model', join(ROOT, 'models', f), '--input', raw,
      '--size', `${h}x${w}`, '--out', out], { cwd: ROOT, stdio: 'pipe', timeout: 120_000 });
    const pyBytes = readFileSync(out);
    const py = new Int16Array(pyBytes.buffer, pyBytes.byteOffset, pyBytes.byteLength / 2);
    const ts = forward(model, input.data, h, w).flow;
    t.equal(py.length, ts.length, `${f}: flow size`);
    let diff = 0;
    for (let i = 0; i < ts.length; i++) if (ts[i] !== py[i]) diff++;
    t.equal(diff, 0, `${f}: int16 flow values that differ`);
    const meta = model.meta as Record<string, unknown>;
    t.type(meta.epe, 'number', `${f}: meta.epe`);
    t.match(String(meta.reproduce ?? ''), /^\/usr\/bin\/python3 -m train\.reproduce (8bit|6bit|mixed|8bit-coarse|6bit-coarse|8bit-w0\.5|8bit-w0\.5-refine|8bit-refine)$/, `${f}: reproduce command`);
  }
});
