// Flow I/O, images, metrics, visualization and dataset readers: everything between files on disk and the engine.
export * from './flo.js';
export * from './image.js';
export { DEFAULT_MAX_PIXELS, MAX_PIXELS_ENV, maxPixels } from './limits.js';
export * from './netinput.js';
export * from './colorwheel.js';
export * from './metrics.js';
export * from './datasets.js';
export type { FrameSource, SourceFrame } from './source.js';
export { readInput, writeOutput } from './io.js';
export * from './kitti.js';
