export * from './server.js';
export * from './stats.js';
