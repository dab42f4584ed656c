// What `--serve` costs the run loop's thread per frame (docs/performance.md, "Live page").
//   node --import=@isaacs/ts-node-temp-fork-for-pr-2009/import bench/serve-overhead.ts [frames] [--engine-ms N] [--json]
// A loop shaped like `run --camera`: per frame the host work of a 640x480 camera pair at the 384x512 network size
// (fit both frames into the network input, flow codes to pixels, flow back to 640x480), then an engine wait (a timer:
// the engine or the virtual board runs elsewhere), then publish() to the live page. Three configurations, each run
// twice in the order A B C A B C so that drifting machine load hits all alike:
//   A  no server                     B  --serve, no page open
//   C  --serve with a page open in headless Chromium (a separate process; it fetches every image it is offered)
// The loop thread's cost is its CPU time from /proc/self/task/<pid>/schedstat (ns on a CPU: immune to the machine's
// other load, which only delays the thread), over the whole run — the loop's host work plus every HTTP, SSE and
// encoder-result callback — divided by the frame count; "added" is C (or B) minus A. Host work alone is the same
// clock around the loop's host steps. The other threads' CPU (the encoder thread, libuv, GC) = process CPU − loop
// thread, reported apart. Elapsed busy time (eventLoopUtilization) is listed too; on a loaded machine it is inflated.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { join } from 'node:path';
import { flowFromFixed, type RgbImage } from '../src/flow/index.js';
import { prepareInput, flowToSource } from '../src/flow/netinput.js';
import { LiveServer } from '../src/serve/index.js';

const args = process.argv.slice(2);
const frames = Number(args.find((a) => /^\d+$/.test(a)) ?? 300);
const ei = args.indexOf('--engine-ms');
const engineMs = ei >= 0 ? Number(args[ei + 1]) : 30;
const json = args.includes('--json');
const CHROMIUM = process.env.FLOWFPGA_CHROMIUM ?? '/usr/bin/chromium';

const SW = 640;
const SH = 480;
const NH = 384;
const NW = 512;
function frameAt(k: number): RgbImage {
  const d = new Uint8Array(SW * SH * 3);
  for (let y = 0, o = 0; y < SH; y++) for (let x = 0; x < SW; x++, o += 3) d.set([(x + 3 * k) & 255, (y + k) & 255, (x ^ y) & 255], o);
  return { width: SW, height: SH, data: d };
}
const imgs = [frameAt(0), frameAt(1), frameAt(2)];
const codes = new Int16Array(2 * NH * NW);
for (let i = 0; i < NH * NW; i++) {
  codes[i] = ((i % NW) - NW / 2) * 2;
  codes[NH * NW + i] = ((i / NW) | 0) - NH / 2;
}

/** CPU time of the calling (main) thread so far, ms. */
function threadCpuMs(): number {
  return Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
}

interface Result {
  config: string;
  hostMs: number;
  hostCpuMs: number;
  threadCpuMsPerFrame: number;
  busyMsPerFrame: number;
  cpuMsPerFrame: number;
  images: number;
  serveMs: number;
}

async function loop(config: string, srv: LiveServer | undefined): Promise<Result> {
  const host = new Float64Array(frames);
  const hostCpu = new Float64Array(frames);
  const img0 = srv?.state().image?.seq ?? 0;
  const serve0 = srv?.serveMs ?? 0;
  const elu0 = performance.eventLoopUtilization();
  const cpu0 = process.cpuUsage();
  const th0 = threadCpuMs();
  for (let i = 0; i < frames; i++) {
    const c0 = threadCpuMs();
    const t0 = performance.now();
    const a = imgs[i % 3];
    const b = imgs[(i + 1) % 3];
    const input = prepareInput(a, b, { mode: 'resize', height: NH, width: NW });
    const flow = flowToSource(flowFromFixed(codes, NW, NH, 5), input.mapping);
    const t1 = performance.now();
    hostCpu[i] = threadCpuMs() - c0;
    await new Promise((r) => setTimeout(r, engineMs));
    const t2 = performance.now();
    host[i] = t1 - t0;
    srv?.publish(
      { index: i, timings: { captureMs: t1 - t0, engineMs: t2 - t1, verifyMs: 0, colourMs: 0, totalMs: t2 - t0 } },
      () => ({ frame: b, flow }),
    );
  }
  const elu = performance.eventLoopUtilization(elu0);
  const th = threadCpuMs() - th0;
  const cpu = process.cpuUsage(cpu0);
  const sorted = Float64Array.from(host).sort();
  return {
    config,
    hostMs: sorted[frames >> 1],
    hostCpuMs: Float64Array.from(hostCpu).sort()[frames >> 1],
    threadCpuMsPerFrame: th / frames,
    busyMsPerFrame: elu.active / frames,
    cpuMsPerFrame: ((cpu.user + cpu.system) / 1000 - th) / frames,
    images: (srv?.state().image?.seq ?? 0) - img0,
    serveMs: ((srv?.serveMs ?? 0) - serve0) / frames,
  };
}

const srv = await LiveServer.start({ port: 0, title: 'bench' });
const profile = mkdtempSync(join(os.tmpdir(), 'ff-bench-chromium-'));
const browser = spawn(CHROMIUM, ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', `--user-data-dir=${profile}`, srv.url], { stdio: 'ignore' });
const results: Result[] = [];
try {
  await loop('warm-up', undefined);
  for (let round = 0; round < 2; round++) {
    // Page closed for A and B: Chromium is already connected, so A and B run with the server not publishing to it.
    results.push(await loop('A no server', undefined));
    const idle = await LiveServer.start({ port: 0 });
    results.push(await loop('B --serve, no page', idle));
    await idle.close();
    const deadline = Date.now() + 120000;
    while (srv.clientCount === 0) {
      if (Date.now() > deadline) throw new Error('Chromium did not open the page within 120 s');
      await new Promise((r) => setTimeout(r, 100));
    }
    results.push(await loop('C --serve, page open', srv));
  }
} finally {
  const exited = new Promise((r) => browser.once('exit', r));
  browser.kill();
  await exited;
  await srv.close();
  rmSync(profile, { recursive: true, force: true, maxRetries: 5 });
}

const mean = (c: string, k: keyof Result) => {
  const r = results.filter((x) => x.config === c);
  return r.reduce((s, x) => s + (x[k] as number), 0) / r.length;
};
const A = mean('A no server', 'threadCpuMsPerFrame');
const hostMs = mean('A no server', 'hostCpuMs');
const summary = {
  frames, engineMs, hostMs,
  loopThreadCpu: { A, B: mean('B --serve, no page', 'threadCpuMsPerFrame'), C: mean('C --serve, page open', 'threadCpuMsPerFrame') },
  addedMsPerFrame: { idle: mean('B --serve, no page', 'threadCpuMsPerFrame') - A, page: mean('C --serve, page open', 'threadCpuMsPerFrame') - A },
  serveMsPerFrame: mean('C --serve, page open', 'serveMs'),
  imagesPerRun: mean('C --serve, page open', 'images'),
  cpuAddedMsPerFrame: mean('C --serve, page open', 'cpuMsPerFrame') - mean('A no server', 'cpuMsPerFrame'),
  machine: `${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.cpus().length} CPUs, load ${os.loadavg()[0].toFixed(1)}, Node ${process.version}`,
  runs: results,
};
if (json) process.stdout.write(JSON.stringify(summary) + '\n');
else {
  const f = (x: number) => x.toFixed(3);
  console.log(`${frames} frames per run, engine wait ${engineMs} ms, 640x480 frames at 384x512; ${summary.machine}`);
  console.log('| run | host work, median ms CPU (elapsed) | loop thread CPU ms/frame | elapsed busy ms/frame | other threads CPU ms/frame | images | serving ms/frame (self-timed) |');
  console.log('|---|---|---|---|---|---|---|');
  for (const r of results) {
    console.log(`| ${r.config} | ${f(r.hostCpuMs)} (${f(r.hostMs)}) | ${f(r.threadCpuMsPerFrame)} | ${f(r.busyMsPerFrame)} | ${f(r.cpuMsPerFrame)} | ${r.images} | ${f(r.serveMs)} |`);
  }
  console.log(`added on the loop thread per frame: no page ${f(summary.addedMsPerFrame.idle)} ms, page open ${f(summary.addedMsPerFrame.page)} ms ` +
    `(${((100 * summary.addedMsPerFrame.page) / A).toFixed(1)} % of the loop thread's CPU per frame, ${((100 * summary.addedMsPerFrame.page) / hostMs).toFixed(1)} % of the host work); ` +
    `other threads (encoder) +${f(summary.cpuAddedMsPerFrame)} ms/frame`);
  const c = results.filter((r) => r.config === 'C --serve, page open');
  console.log(`serving's own timing (the budget's clock) over the host work's elapsed time, page open: ` +
    c.map((r) => `${((100 * r.serveMs) / r.hostMs).toFixed(1)} %`).join(', '));
}
