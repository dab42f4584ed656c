// Imports every module under a compiled tree (test/arm/run: the runtime as JS, under the ARM lane's Node). A named
// import of something the Node at hand lacks (as `import { crc32 } from 'node:zlib'` was on Node 20.11) fails at
// link time, so this finds it in every module, not only in those a command happens to load.
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';

const root = path.resolve(process.argv[2] ?? 'dist');
if (!fs.existsSync(root)) {
  console.error(`import-all: ${root} does not exist`);
  process.exit(1);
}
const files = [];
(function walk(dir) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p);
    else if (e.name.endsWith('.js')) files.push(p);
  }
})(root);
if (files.length === 0) {
  console.error(`import-all: no .js modules under ${root}`);
  process.exit(1);
}
// A worker entry module (`*-worker.js`) refuses the main thread; load it as a worker and wait for its first message
// (its "ready") or its error.
function importInWorker(f) {
  return new Promise((resolve, reject) => {
    const w = new Worker(f);
    let settled = false;
    const settle = (fn, v) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void w.terminate().finally(() => fn(v)); // terminate() makes the worker exit with 1: settled already
    };
    const timer = setTimeout(() => settle(reject, new Error('no message from the worker within 60 s')), 60_000);
    w.once('message', () => settle(resolve));
    w.once('error', (e) => settle(reject, e));
    w.once('exit', (code) => settle(code ? reject : resolve, code ? new Error(`worker exited with ${code}`) : undefined));
  });
}
let failed = 0;
for (const f of files) {
  try {
    if (f.endsWith('-worker.js')) await importInWorker(f);
    else await import(pathToFileURL(f).href);
  } catch (e) {
    failed++;
    console.error(`import-all: ${path.relative(root, f)}: ${String(e?.message ?? e).split('\n')[0]}`);
  }
}
console.log(`import-all: ${files.length - failed}/${files.length} modules imported on Node ${process.version} (${process.arch})`);
process.exit(failed ? 1 : 0);
