// The live page in headless Chromium, fed by an in-test frame producer: asserts on what the page shows (a screenshot
// of the flow panel in the colour of a known uniform flow, the frame counter and fps changing) and that it keeps
// serving across a disconnect and a reconnect.
import t from 'tap';
import { LiveServer } from '../src/serve/index.js';
import { computeColor } from '../src/flow/colorwheel.js';
import { decodePng, type RgbImage } from '../src/flow/image.js';
import { chromiumMissing, launchChromium } from './helpers/chromium.js';

const missing = chromiumMissing();
if (missing && !process.env.CI) {
  t.skip(`live page browser test skipped: ${missing}`);
} else {
  t.test('live page in Chromium', { timeout: 900000 }, async (t) => {
    t.notOk(missing, 'Chromium is installed (CI must have the chromium package)');
    if (missing) return;
    const W = 96;
    const H = 64;
    // A uniform flow (3, -4) px: every pixel has the fully saturated wheel colour of direction (0.6, -0.8).
    const u = new Float32Array(W * H).fill(3);
    const v = new Float32Array(W * H).fill(-4);
    const want = new Uint8Array(3);
    computeColor(0.6, -0.8, want);
    const frame: RgbImage = { width: W, height: H, data: new Uint8Array(W * H * 3) };
    for (let i = 0; i < W * H; i++) frame.data.set([i % W * 2, (i / W) * 3, 128], 3 * i);

    const srv = await LiveServer.start({ port: 0, title: 'browser test' });
    let published = 0;
    let pulls = 0;
    let interval = 15;
    let timer: NodeJS.Timeout | undefined;
    const produce = () => {
      srv.publish(
        { index: published, timings: { captureMs: 1.5, engineMs: 10 + (published % 7), verifyMs: 2, colourMs: 1.5, totalMs: 15 + (published % 7) }, verify: { mode: 'sample', regions: 8, mismatches: 0 } },
        () => (pulls++, { frame, flow: { width: W, height: H, u, v } }),
      );
      published++;
      timer = setTimeout(produce, interval);
    };
    produce();
    const browser = await launchChromium();
    t.teardown(async () => {
      clearTimeout(timer);
      await browser.close();
      await srv.close();
    });
    const WAIT = { timeout: 180000, polling: 100 };
    const num = (sel: string) => `Number(document.getElementById(${JSON.stringify(sel)}).textContent)`;

    let page = await browser.context.newPage();
    await page.goto(srv.url);
    await page.waitForFunction(`document.getElementById('flow').naturalWidth === ${W}`, undefined, WAIT);
    // Screenshot of the panel's box snapped outwards to whole pixels; a fractional layout offset may add a row of
    // background at an edge, so the interior (1 px in from each side) is compared.
    const r = (await page.evaluate(`(() => { const b = document.getElementById('flow').getBoundingClientRect(); return [b.left, b.top, b.right, b.bottom]; })()`)) as number[];
    const clip = { x: Math.floor(r[0]), y: Math.floor(r[1]), width: Math.ceil(r[2]) - Math.floor(r[0]), height: Math.ceil(r[3]) - Math.floor(r[1]) };
    t.ok(Math.abs(r[2] - r[0] - W) < 0.01 && Math.abs(r[3] - r[1] - H) < 0.01, `flow panel shown at its own size (${r.join(', ')})`);
    const shot = decodePng(await page.screenshot({ clip }));
    let off = 0;
    let n = 0;
    for (let y = 1; y < shot.height - 1; y++) {
      for (let x = 1; x < shot.width - 1; x++, n++) {
        const o = 3 * (y * shot.width + x);
        for (let c = 0; c < 3; c++) if (Math.abs(shot.data[o + c] - want[c]) > 2) off++;
      }
    }
    t.ok(n >= (W - 2) * (H - 2), `compared ${n} on-screen pixels`);
    t.equal(off, 0, `every flow pixel on screen has the wheel colour of (3, -4): rgb(${want.join(', ')})`);

    const f0 = Number(await page.textContent('#frames'));
    await page.waitForFunction(`${num('frames')} > ${f0}`, undefined, WAIT);
    t.pass('frame counter advances');
    await page.waitForFunction(`${num('fps')} > 0`, undefined, WAIT);
    const fps0 = await page.textContent('#fps');
    interval = 200; // a different rate: the shown fps must follow
    await page.waitForFunction(`document.getElementById('fps').textContent !== ${JSON.stringify(fps0)}`, undefined, WAIT);
    t.pass(`fps changes over time (was ${fps0}, now ${await page.textContent('#fps')})`);
    t.match(await page.textContent('#verify'), /sample: 0 mismatch/);
    t.match(await page.textContent('#lat-engineMs'), /^\d+\.\d$/, 'engine latency shown');
    t.equal(await page.textContent('#conn'), 'live');

    // Disconnect: the server notices, keeps taking frames and stops encoding.
    await page.close();
    const start = Date.now();
    while (srv.clientCount !== 0) {
      if (Date.now() - start > 180000) throw new Error('server did not notice the page closing');
      await new Promise((r) => setTimeout(r, 50));
    }
    const pullsGone = pulls;
    const pubGone = published;
    while (published < pubGone + 3) await new Promise((r) => setTimeout(r, 50));
    t.equal(pulls, pullsGone, 'no images taken from the loop while nobody watches');
    const seqGone = srv.state().image!.seq;

    // Reconnect: a new page is live again and sees newer frames and images.
    page = await browser.context.newPage();
    await page.goto(srv.url);
    await page.waitForFunction(`${num('frames')} > ${pubGone}`, undefined, WAIT);
    await page.waitForFunction(`${num('frame-seq')} > ${seqGone}`, undefined, WAIT);
    t.pass('after a reconnect the page shows new frames and new images');
    await page.close();
  });
}
