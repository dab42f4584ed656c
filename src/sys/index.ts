export * from './constants.js';
export * from './errors.js';
export * from './types.js';
export { MemoryMapping } from './mapping.js';
export { createLibcSys, libcSys } from './libc.js';
export { FFCACHE_LIB, loadUserCache, userCacheFrom, userCacheIfUseful, type CacheLib, type UserCache } from './cache.js';
