// flowfpga emu [--ddr-mb N] [--fault ...]: runs the virtual board standalone and prints its paths; Ctrl-C stops it.
import type { Command } from 'commander';
import { UserError } from '../../errors.js';
import { parseFault, startEmu, type EmuFaults, type EmuInfo } from '../../emu/index.js';

export function register(program: Command): void {
  program
    .command('emu')
    .description('run the virtual board (HLS engine + platform model) standalone and print its device paths')
    .option('--ddr-mb <n>', 'virtual DDR size in MiB', '64')
    .option('--fault <spec>', 'fault switch, repeatable: hang, late=MS, flip[=MASK], bus-error[=ADDR], reset', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--isr <mode>', 'ISR flavour: tow (Vitis 2023.1+) or cor', 'tow')
    .option('--json', 'print the board description as JSON')
    .action(async (opts: { ddrMb: string; fault: string[]; isr: string; json?: boolean }) => {
      const ddrMb = /^\d+$/.test(opts.ddrMb) ? Number(opts.ddrMb) : NaN;
      if (!(ddrMb >= 1 && ddrMb <= 4096)) throw new UserError(`--ddr-mb ${opts.ddrMb} is not a size`, 'use 1..4096 (MiB)');
      if (opts.isr !== 'tow' && opts.isr !== 'cor') throw new UserError(`--isr ${opts.isr} is not tow or cor`, 'tow = toggle-on-write (Vitis 2023.1+), cor = clear-on-read (Vitis 2021.x)');
      const faults: EmuFaults = {};
      for (const f of opts.fault) parseFault(f, faults);
      const emu = await startEmu({ ddrMb, isr: opts.isr, faults });
      // startEmu unrefs the board so that library users never hang on it; here it is the whole point.
      emu.child.ref();
      process.stdout.write(opts.json ? JSON.stringify(emu.info) + '\n' : describe(emu.info));
      await new Promise<void>((resolve) => {
        const stop = (): void => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          void emu.stop().then(resolve);
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
        void emu.exited.then(() => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          resolve();
        });
      });
    });
}

export function describe(i: EmuInfo): string {
  const pe = i.caps.pe;
  return [
    `virtual board running (pid ${i.pid}); Ctrl-C stops it and removes ${i.dir}`,
    `  attach:      FLOWFPGA_EMU_DIR=${i.dir} flowfpga … --board emu   (${i.dir}/board.json describes it)`,
    `  sysfs root:  ${i.sysfsRoot}   (uio${i.uioIndex}, name ${i.uioName})`,
    `  registers:   ${i.regs}   (map0, ${i.regsSize} bytes at ${i.regsPhys})`,
    `  interrupt:   ${i.irq}   (UIO semantics: write s32 1 to arm, read 4 bytes = event count; ISR ${i.isr.toUpperCase()})`,
    `  DDR:         ${i.ddr}   (${i.ddrSize >> 20} MiB at ${i.ddrBase})`,
    `  control:     ${i.control}   (fault switches, PL reset)`,
    `  engine:      ${pe & 0xffff}x${pe >>> 16} PEs, ibuf ${i.caps.ibuf}, obuf ${i.caps.obuf}, sbuf ${i.caps.sbuf}, ${i.caps.mhz} MHz${i.faults ? `, faults 0x${i.faults.toString(16)}` : ''}`,
    '',
  ].join('\n');
}
