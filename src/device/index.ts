export { EngineDevice, STATUS_NAMES, type EngineDeviceOptions, type EngineDeviceInfo, type JobResult, type JobTiming, type RunOptions } from './engine-device.js';
export { RefFlowDevice, openFlowDevice, engineCapsLine, type FlowDevice, type FlowDeviceCaps, type InferResult, type VerifySummary, type InferTimings, type EngineFlowFactory, type OpenFlowOptions } from './flow-device.js';
export { resolveTarget, envBoard, type Target, type ResolveOptions } from './resolve.js';
export { checkIdentity, memoryRoundTrip, runGoldenCase, goldenOpChecks, fitTile, type CheckResult, type OpResult } from './selftest.js';
