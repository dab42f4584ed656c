// Where the board's kernel interfaces live: /sys/class/fpga_manager, /lib/firmware, /sys/class/uio, /dev, /dev/mem.
// FLOWFPGA_SYSROOT (default /) moves them all under one directory — the virtual board's directory already holds a
// sys/class/uio + dev tree, and tests add a faked fpga_manager beside it — so `flowfpga load` runs its real code
// path against files.
import path from 'node:path';
import type { FpgaManagerOptions } from '../driver/overlay.js';
import type { UioPaths } from '../driver/uio.js';

export interface SystemPaths {
  root: string;
  fpga: Required<Pick<FpgaManagerOptions, 'sysfsRoot' | 'firmwareDir' | 'stateFile'>>;
  uio: Required<UioPaths>;
  devMem: string;
}

export function systemPaths(root = process.env.FLOWFPGA_SYSROOT || '/'): SystemPaths {
  const at = (p: string): string => path.join(root, p);
  return {
    root,
    fpga: {
      sysfsRoot: at('sys/class/fpga_manager'),
      firmwareDir: at('lib/firmware'),
      stateFile: at('var/lib/flowfpga/pl-state.json'),
    },
    uio: { sysfsRoot: at('sys/class/uio'), devRoot: at('dev') },
    devMem: at('dev/mem'),
  };
}
