// flowfpga load BIT [--hwh HWH] [--engine-instance NAME] [--force]: brings an overlay up on a board — checks the
// .hwh holds the flowfpga engine (VLNV), sets the PL clocks, downloads through fpga_manager, pulses the PL reset,
// finds the engine's UIO device and checks its identity registers — and says in one line what it found.
import type { Command } from 'commander';
import { addLoadOptions, loadOverlay, parseTimeout, type OverlayCliOptions } from '../device-options.js';

interface Opts extends OverlayCliOptions {
  timeout: string;
  json?: boolean;
}

export function register(program: Command): void {
  const cmd = program
    .command('load')
    .description('load a bitstream (.bit/.bin + .hwh) through fpga_manager and check the flowfpga engine in it')
    .argument('<bit>', 'the bitstream: a Vivado .bit, or a byte-swapped .bin')
    .option('--timeout <ms>', 'bound on the fpga_manager wait and on the identity probe', '10000')
    .option('--json', 'print one JSON object instead of the line');
  addLoadOptions(cmd).action(async (bit: string, opts: Opts) => {
    parseTimeout(opts.timeout);
    const r = await loadOverlay(bit, opts, (l) => void (opts.json ? undefined : process.stdout.write(l + '\n')));
    if (opts.json) {
      process.stdout.write(JSON.stringify({
        bit: r.bit, hwh: r.hwh, loaded: !r.load.skipped, state: r.load.state, sha256: r.load.sha256,
        engine: { instance: r.engine.instance, vlnv: r.engine.vlnv, base: `0x${r.engine.base.toString(16)}`, range: Number(r.engine.range), gicId: r.engine.gicId ?? null },
        uio: r.uio.device, caps: r.caps,
        clocks: r.clocks.map((c) => ({ index: c.index, div0: c.div0, div1: c.div1 })),
      }) + '\n');
    }
  });
}
