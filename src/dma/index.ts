export * from './types.js';
export { Arena } from './arena.js';
export { DmaAllocator, DmaBuffer, type AllocOptions, type DmaStats, type LeakReport, type Owner, type CpuAccess } from './allocator.js';
export { ShmBackend, type ShmOptions } from './shm.js';
export { UdmabufBackend, findUdmabuf, type UdmabufOptions, type UdmabufInfo } from './udmabuf.js';
export { LibcmaBackend, loadLibcma, type CmaLib } from './libcma.js';
export { SYNC_CALL_BYTES, copyWindow, planWindowSync, rangeBytes, readDmaWindow, takeDmaWindow, windowLineRanges, windowReadState, windowSyncPerPlane, type WindowReadState, type WindowSync, type WindowSyncStats } from './window.js';
