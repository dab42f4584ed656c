export * from './types.js';
export { Arena } from './arena.js';
export { DmaAllocator, DmaBuffer, type AllocOptions, type DmaStats, type LeakReport, type Owner } from './allocator.js';
export { ShmBackend, type ShmOptions } from './shm.js';
export { UdmabufBackend, findUdmabuf, type UdmabufOptions, type UdmabufInfo } from './udmabuf.js';
export { LibcmaBackend, loadLibcma, type CmaLib } from './libcma.js';
