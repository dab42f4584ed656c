// The scheduler: planning FlowNetS-Q onto the engine (plan.ts), its cost model (cost.ts), frame execution over a
// CommandExecutor (executor.ts, runner.ts) and per-frame verification (verify.ts). cycles.ts (engine cycle model and
// command codec) belongs to the engine.
export * from './config.js';
export * from './geometry.js';
export * from './plan.js';
export * from './cost.js';
export * from './executor.js';
export * from './verify.js';
export * from './runner.js';
