// Imports every module under a compiled tree (test/arm/run: the runtime as JS, under the ARM lane's Node). A named
// import of something the Node at hand lacks (as `import { crc32 } from 'node:zlib'` was on Node 20.11) fails at
// link time, so this finds it in every module, not only in those a command happens to load.
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

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
let failed = 0;
for (const f of files) {
  try {
    await import(pathToFileURL(f).href);
  } catch (e) {
    failed++;
    console.error(`import-all: ${path.relative(root, f)}: ${String(e?.message ?? e).split('\n')[0]}`);
  }
}
console.log(`import-all: ${files.length - failed}/${files.length} modules imported on Node ${process.version} (${process.arch})`);
process.exit(failed ? 1 : 0);
