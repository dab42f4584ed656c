export { startEmu, readEmuInfo, emuArgs, EmuProcess, type EmuInfo, type EmuStartOptions } from './process.js';
export { EmuControl, parseFault, faultArgs, CONTROL_MAGIC, type EmuFaults, type EmuState } from './control.js';
export { EmuRegisterBus, type IsrMode } from './bus.js';
export { EmuIrq } from './irq.js';
export { emuBinaryPath, requireEmuBinary, packageRoot } from './binary.js';
