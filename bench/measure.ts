// bench/measure.ts: the timing loop the host benches share.

/** Wall ms per call (median, best) and CPU ms per call (mean user+system: what the process itself spent), over
 *  `reps` calls after 5 warm-up calls (JIT). On a shared machine the CPU figure is the stable one. */
export function measure(f: () => void, reps: number): { median: number; best: number; cpu: number } {
  for (let i = 0; i < 5; i++) f();
  const ms: number[] = [];
  const c0 = process.cpuUsage();
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    f();
    ms.push(performance.now() - t0);
  }
  const c = process.cpuUsage(c0);
  ms.sort((a, b) => a - b);
  return { median: ms[ms.length >> 1], best: ms[0], cpu: (c.user + c.system) / 1000 / reps };
}
