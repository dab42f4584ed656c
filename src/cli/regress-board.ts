// The regression agent's board: golden cases through the self-test's engine path and whole networks through the
// scheduler's plan, run step by step so that every layer's output can be digested before its buffer is reused.
// Lives in cli because it composes the device layer and the scheduler (like engine-flow.ts).
import { getBoard } from '../driver/boards.js';
import { engineCapsLine, type EngineDevice } from '../device/index.js';
import { goldenCaseOnEngine } from '../device/selftest.js';
import type { QModel } from '../model/types.js';
import type { GoldenCase } from '../reference/golden.js';
import type { RegressBoard, TensorShape } from '../regress/agent.js';
import type { EngineIdentity } from '../regress/protocol.js';
import { DeviceExecutor, FrameRunner, planNetwork } from '../scheduler/index.js';
import { EngineAddressSpace } from './engine-flow.js';

export class EngineRegressBoard implements RegressBoard {
  constructor(readonly engine: EngineDevice, readonly kind: 'emu' | 'board', readonly title: string, readonly timeoutMs: number) {}

  identity(): EngineIdentity {
    const c = this.engine.caps;
    return {
      description: engineCapsLine(this.kind, this.title, c),
      board: this.engine.info.board,
      engineVersion: c.version & 0xffff,
      engineContract: c.version >>> 16,
      peRows: c.peRows,
      peCols: c.peCols,
      clockMHz: c.clockMHz,
    };
  }

  golden(gc: GoldenCase): Promise<Uint8Array | Int16Array | string> {
    return goldenCaseOnEngine(this.engine, gc, { timeoutMs: this.timeoutMs });
  }

  async network(model: QModel, h: number, w: number, frames: Uint8Array,
    onLayer: (name: string, out: Uint8Array, shape: TensorShape, cycles: number) => void): Promise<{ cycles: number }> {
    // A fresh plan and DDR image per case (cases change model and size); everything is freed after the run.
    const space = new EngineAddressSpace(this.engine, getBoard(this.engine.info.board).memoryGBps, this.timeoutMs);
    try {
      const plan = planNetwork(model.arch, h, w, space.config);
      const runner = new FrameRunner(plan, model, new DeviceExecutor(space), { verify: 'off' });
      // conv-upsample layers take two steps (conv, then up2): the layer's output is its last step's.
      const lastStep = new Map<number, number>();
      for (const st of plan.steps) lastStep.set(st.layer, st.index);
      let stepCycles = 0;
      return await runner.runFrameSteps(frames, (st, out, cycles) => {
        stepCycles += cycles;
        if (lastStep.get(st.layer) !== st.index) return;
        const name = st.layer < 0 ? 'output' : model.arch.layers[st.layer].name;
        onLayer(name, out, { c: st.output.c, h: st.output.h, w: st.output.w, esize: st.output.esize }, stepCycles);
        stepCycles = 0;
      });
    } finally {
      space.freeAll();
    }
  }

  close(): Promise<void> {
    return this.engine.close();
  }
}
