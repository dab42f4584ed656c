import t from 'tap';
import { createFlow } from '../src/flow/flo.js';
import { flowErrors, FlowErrorAccumulator } from '../src/flow/metrics.js';

function flow(w: number, h: number, u: number[], v: number[]) {
  const f = createFlow(w, h);
  f.u.set(u);
  f.v.set(v);
  return f;
}

// Hand-made 5-pixel pair:
//   p0 gt (0,0)   pred (1,0)   EPE 1   |gt| 0    -> not an outlier (EPE <= 3)
//   p1 gt (3,4)   pred (3,0)   EPE 4   |gt| 5    -> outlier (4 > 3 and 4 > 0.25)
//   p2 gt (10,0)  pred (0,0)   EPE 10  |gt| 10   -> outlier
//   p3 gt (100,0) pred (104,0) EPE 4   |gt| 100  -> NOT an outlier: 4 > 3 but 4 < 5 % of 100 (the AND matters)
//   p4 gt unknown (NaN)                          -> excluded
const gt = flow(5, 1, [0, 3, 10, 100, NaN], [0, 4, 0, 0, 0]);
const pred = flow(5, 1, [1, 3, 0, 104, 7], [0, 0, 0, 0, 7]);

t.test('EPE, L1 and Fl-all on a hand-made pair', async (t) => {
  const e = flowErrors(pred, gt);
  t.equal(e.valid, 4);
  t.equal(e.epe, (1 + 4 + 10 + 4) / 4);
  // L1: |du|+|dv| per pixel 1, 4, 10, 4 over 2 channels x 4 pixels
  t.equal(e.l1, 19 / 8);
  t.equal(e.outliers, 2);
  t.equal(e.fl, 50);
});

t.test('validity: 1e9 threshold and explicit mask', async (t) => {
  const g = flow(3, 1, [1e9, 1.5e9, 0], [0, 0, -2e9]);
  const p = flow(3, 1, [1e9, 0, 0], [3, 0, 0]);
  const e = flowErrors(p, g);
  t.equal(e.valid, 1, 'exactly 1e9 is still known, above it is unknown');
  t.equal(e.epe, 3);
  const m = flowErrors(pred, gt, Uint8Array.from([1, 1, 0, 1, 1]));
  t.equal(m.valid, 3);
  t.equal(m.epe, 3);
  t.equal(m.outliers, 1);
  const none = flowErrors(pred, gt, new Uint8Array(5));
  t.equal(none.valid, 0);
  t.ok(Number.isNaN(none.epe) && Number.isNaN(none.fl));
  // a NaN prediction at a valid pixel is an infinite error, never silently skipped
  const bad = flow(5, 1, [NaN, 3, 10, 100, 0], [0, 4, 0, 0, 0]);
  t.equal(flowErrors(bad, gt).epe, Infinity);
});

t.test('size mismatch is a UserError with a hint', async (t) => {
  t.throws(() => flowErrors(createFlow(4, 1), gt), { name: 'UserError', message: /predicted flow is 4x1 but ground truth is 5x1/ });
  t.throws(() => flowErrors(pred, gt, new Uint8Array(4)), { name: 'UserError', message: /mask has 4 pixels/ });
});

t.test('accumulator keeps per-pair and pooled means apart', async (t) => {
  const acc = new FlowErrorAccumulator();
  acc.add(pred, gt); // 4 px, EPE sum 19, 2 outliers
  const e2 = acc.add(flow(1, 1, [0], [0]), flow(1, 1, [0], [1])); // 1 px, EPE 1
  t.equal(e2.epe, 1);
  acc.add(pred, gt, new Uint8Array(5)); // no valid pixel
  const s = acc.summary();
  t.equal(s.pairs, 3);
  t.equal(s.emptyPairs, 1);
  t.equal(s.pixels, 5);
  t.equal(s.epe, (19 / 4 + 1) / 2, 'mean of per-pair means (FlowNet AEE)');
  t.equal(s.epePixel, 20 / 5, 'pooled over pixels');
  t.equal(s.l1, (19 / 8 + 1 / 2) / 2);
  t.equal(s.l1Pixel, 20 / 10);
  t.equal(s.fl, 40, 'KITTI Fl-all pools outliers over pixels: 2 of 5');
  t.equal(s.flPair, 25);
  t.ok(Number.isNaN(new FlowErrorAccumulator().summary().epe));
});
