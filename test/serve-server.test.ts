// The live page's server without a browser: statistics, the drop-not-queue SSE policy, routes, bind errors, images.
import t from 'tap';
import { request } from 'node:http';
import { PassThrough } from 'node:stream';
import { LiveServer, LiveStats, type LiveFrameInfo, type LiveState } from '../src/serve/index.js';
import { SseClient, sseEvent } from '../src/serve/sse.js';
import { colorWheelLegend, flowToColorPreview } from '../src/flow/colorwheel.js';
import { decodeJpeg, decodePng, encodeJpeg, type RgbImage } from '../src/flow/image.js';
import { UserError } from '../src/errors.js';

const timings = (total: number) => ({ captureMs: 1, engineMs: total - 4, verifyMs: 2, colourMs: 1, totalMs: total });
const info = (index: number, total = 10, mismatches = 0): LiveFrameInfo => ({
  index,
  timings: timings(total),
  verify: { mode: 'sample', regions: 4, mismatches },
});

interface Got {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

function get(url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** An SSE reader: collects parsed `state` events; `next(pred)` waits (bounded) for one matching. */
function openEvents(url: string) {
  const states: LiveState[] = [];
  const waiters: Array<() => void> = [];
  let buf = '';
  let res: import('node:http').IncomingMessage | undefined;
  // Closing before the response head arrived (a test that never yields) makes the request emit 'socket hang up':
  // expected then; before close it is the test's failure, reported by next().
  let closed = false;
  let failure: Error | undefined;
  const req = request(url + 'events', (r) => {
    res = r;
    r.setEncoding('utf8');
    r.on('data', (s: string) => {
      buf += s;
      let i;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const data = /^event: state\ndata: (.*)$/m.exec(block);
        if (data) states.push(JSON.parse(data[1]));
        waiters.splice(0).forEach((w) => w());
      }
    });
  });
  req.on('error', (e) => {
    if (closed) return;
    failure = e;
    waiters.splice(0).forEach((w) => w());
  });
  req.end();
  return {
    states,
    get response() {
      return res;
    },
    async next(pred: (s: LiveState) => boolean, what: string, timeoutMs = 120000): Promise<LiveState> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const s = states.find(pred);
        if (s) return s;
        if (failure) throw failure;
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise<void>((r) => {
          const tm = setTimeout(r, 200);
          waiters.push(() => (clearTimeout(tm), r()));
        });
      }
    },
    close: () => {
      closed = true;
      req.destroy();
    },
  };
}

async function until(cond: () => boolean, what: string, timeoutMs = 120000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

t.test('LiveStats: counter, per-stage last and mean, fps from publish times, decay when stalled, verify tally', async (t) => {
  const s = new LiveStats();
  let snap = s.snapshot(0);
  t.equal(snap.frames, 0);
  t.equal(snap.index, -1);
  t.equal(snap.fps, 0);
  t.equal(snap.verify, null);
  t.equal(snap.stages.totalMs.mean, 0);
  s.add(info(0, 10), 1000);
  t.equal(s.snapshot(1000).fps, 0, 'one frame: no rate yet');
  for (let i = 1; i < 40; i++) s.add(info(i, 10 + i, i === 5 ? 3 : 0), 1000 + i * 100);
  snap = s.snapshot(1000 + 39 * 100);
  t.equal(snap.frames, 40);
  t.equal(snap.index, 39);
  t.ok(Math.abs(snap.fps - 10) < 1e-9, `10 fps from 100 ms spacing (${snap.fps})`);
  t.equal(snap.stages.totalMs.last, 49);
  // window = last 30 frames: totals 20..49 → mean 34.5
  t.ok(Math.abs(snap.stages.totalMs.mean - 34.5) < 1e-9, `window mean ${snap.stages.totalMs.mean}`);
  t.equal(snap.stages.captureMs.last, 1);
  t.same(snap.verify, { mode: 'sample', regions: 4, mismatches: 0, totalMismatches: 3, framesWithMismatch: 1, dropped: 0 });
  const stalled = s.snapshot(1000 + 39 * 100 + 2000);
  t.ok(stalled.fps <= 0.5 + 1e-9, `a 2 s stall shows at most 0.5 fps (${stalled.fps})`);
  s.add({ index: 40, timings: timings(5), verify: { mode: 'full', regions: 9, mismatches: 0, dropped: true } }, 6000);
  t.equal(s.snapshot(6000).verify!.dropped, 1);
  s.add({ index: 41, timings: timings(5) }, 6100);
  t.equal(s.snapshot(6100).verify!.mode, 'full', 'a frame without verification keeps the tally');
});

t.test('SseClient drops messages for a backed-up socket and catches up with the newest one after a drain', async (t) => {
  const out = new PassThrough({ highWaterMark: 1024 });
  let newest = sseEvent('state', '"x"');
  const c = new SseClient(out, 4096, () => newest);
  const msg = sseEvent('state', JSON.stringify('y'.repeat(1000)));
  for (let i = 0; i < 1000; i++) c.send(msg); // nobody reads: the socket backs up
  t.ok(c.buffered <= 4096 + msg.length + 1024, `buffered bytes bounded (${c.buffered})`);
  t.ok(c.dropped >= 990, `messages were dropped, not queued (${c.dropped})`);
  newest = sseEvent('state', '"latest"');
  const read: string[] = [];
  out.on('data', (d: Buffer) => read.push(d.toString()));
  await until(() => read.join('').includes('"latest"'), 'catch-up message after drain', 10000);
  t.ok(read.join('').endsWith(newest), 'after draining, the newest state is sent once');
  c.end();
  c.end();
  c.send(msg); // after end: ignored, no throw
  t.pass('end is idempotent and sending afterwards is a no-op');
});

t.test('routes: page, state, legend, 404/405, host guard; images only while a page listens', async (t) => {
  const srv = await LiveServer.start({ port: 0, title: 'model <tiny> on test', stateHz: 1000, imageHz: 1000, encodeDuty: 1 });
  t.teardown(() => srv.close());
  t.match(srv.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
  const page = await get(srv.url);
  t.equal(page.status, 200);
  t.match(page.headers['content-type'], /text\/html/);
  const html = page.body.toString();
  t.match(html, /model &#60;tiny&#62; on test/, 'title is escaped');
  for (const id of ['frame', 'flow', 'legend', 'fps', 'frames', 'verify', 'lat-engineMs', 'lat-captureMs', 'lat-verifyMs', 'lat-colourMs', 'lat-totalMs']) {
    t.match(html, new RegExp(`id="${id}"`), `page has #${id}`);
  }
  t.equal((await get(srv.url + 'nope')).status, 404);
  t.equal((await get(srv.url + 'frame.jpg')).status, 404, 'no image before any frame');
  t.equal((await get(srv.url, {}, 'POST')).status, 405);
  const head = await get(srv.url + 'state', {}, 'HEAD');
  t.equal(head.status, 200);
  t.equal(head.body.length, 0, 'HEAD has no body');
  t.equal((await get(srv.url, { host: 'evil.example:80' })).status, 403, 'a foreign Host header is refused on loopback');
  t.equal((await get(srv.url, { host: `localhost:${srv.port}` })).status, 200);
  const legend = decodePng((await get(srv.url + 'legend.png')).body);
  t.same(Buffer.from(legend.data), Buffer.from(colorWheelLegend(151).data), 'legend is the colour wheel');

  // No page connected: publishing never asks for pixels.
  let pulls = 0;
  const frame: RgbImage = { width: 8, height: 4, data: new Uint8Array(96).fill(200) };
  const flow = { width: 8, height: 4, u: new Float32Array(32).fill(-2), v: new Float32Array(32).fill(1) };
  const pull = () => (pulls++, { frame, flow });
  for (let i = 0; i < 5; i++) srv.publish(info(i), pull);
  t.equal(pulls, 0, 'no encode without a page');
  const st = JSON.parse((await get(srv.url + 'state')).body.toString()) as LiveState;
  t.equal(st.stats.frames, 5);
  t.equal(st.status, 'running');
  t.equal(st.image, null);

  const ev = openEvents(srv.url);
  await until(() => srv.clientCount === 1, 'SSE client registered');
  const first = await ev.next(() => true, 'initial state');
  t.equal(first.stats.frames, 5, 'a new page gets the current state at once');
  srv.publish(info(5), pull);
  t.equal(pulls, 1, 'a connected page makes the next frame\'s images due');
  const withImage = await ev.next((s) => s.image !== null, 'state naming an image');
  t.same(withImage.image!.frame, [8, 4]);
  const jpg = await get(srv.url + 'frame.jpg?seq=1');
  t.equal(jpg.headers['content-type'], 'image/jpeg');
  t.equal(jpg.headers['x-image-seq'], '1');
  const dj = decodeJpeg(jpg.body);
  t.same([dj.width, dj.height], [8, 4]);
  t.ok(Math.abs(dj.data[0] - 200) <= 3, 'frame JPEG shows the frame');
  const fp = decodePng((await get(srv.url + 'flow.png?seq=1')).body);
  t.same(Buffer.from(fp.data), Buffer.from(flowToColorPreview(flow).image.data), 'flow PNG is the display colour-wheel image');
  t.equal(withImage.image!.maxRadius, flowToColorPreview(flow).maxRadius);

  // A loop that already coloured the flow hands the colour image over; it is shown as given.
  const colour: RgbImage = { width: 8, height: 4, data: new Uint8Array(96).fill(17) };
  srv.publish(info(6), () => ({ frame, colour, maxRadius: 7 }), true);
  const s2 = await ev.next((s) => (s.image?.seq ?? 0) >= 2, 'second image');
  t.equal(s2.image!.maxRadius, 7);
  const fp2 = decodePng((await get(srv.url + 'flow.png')).body);
  t.ok(fp2.data.every((x) => x === 17), 'given colour image is served unchanged');

  srv.setStatus('done: 7 pairs', true);
  const done = await ev.next((s) => s.done, 'done state');
  t.equal(done.status, 'done: 7 pairs');
  ev.close();
  await until(() => srv.clientCount === 0, 'client removed after disconnect');
  srv.publish(info(7), pull);
  t.equal(pulls, 1, 'after the page left, no more encodes');
});

t.test('serving work on the loop thread is held to a share of the loop\'s host work', async (t) => {
  const srv = await LiveServer.start({ port: 0, imageHz: 1e6, encodeDuty: 1, hostShare: 0.05 });
  t.teardown(() => srv.close());
  const ev = openEvents(srv.url);
  await until(() => srv.clientCount === 1, 'SSE client registered');
  const W = 512;
  const H = 384;
  const frame: RgbImage = { width: W, height: H, data: new Uint8Array(W * H * 3) };
  const flow = { width: W, height: H, u: new Float32Array(W * H), v: new Float32Array(W * H) };
  let pulls = 0;
  const pull = () => (pulls++, { frame, flow });
  // Frames whose time is all engine: no host work, so nothing beyond the starting credit (20 ms) may be spent.
  const engineOnly = { captureMs: 0, engineMs: 50, verifyMs: 0, colourMs: 0, totalMs: 50 };
  for (let i = 0; i < 3000; i++) srv.publish({ index: i, timings: engineOnly }, pull);
  t.ok(pulls > 0, `a new page gets images at once (${pulls})`);
  t.ok(pulls < 3000, `then images stop when the credit is spent (${pulls} of 3000 frames)`);
  const spent = srv.serveMs;
  t.ok(spent < 20 + 40, `serving took ${spent.toFixed(2)} ms for 3000 frames`);
  // Frames with host work earn credit again: 200 frames x 10 ms host x 5 % = 100 ms.
  const before = pulls;
  const hosty = { captureMs: 5, engineMs: 40, verifyMs: 5, colourMs: 0, totalMs: 50 };
  for (let i = 0; i < 200; i++) srv.publish({ index: 3000 + i, timings: hosty }, pull);
  t.ok(pulls > before, `host work earns images again (${pulls - before})`);
  // The credit is checked before an image is taken, so it can end one image's cost below zero.
  const bound = 100 + 20 + spent;
  t.ok(srv.serveMs - spent <= bound, `and serving stays within 5 % of it plus the cap and one image (${(srv.serveMs - spent).toFixed(2)} <= ${bound.toFixed(2)} ms)`);
  ev.close();
});

t.test('the last frame of a run is encoded with force even when no page is open', async (t) => {
  const srv = await LiveServer.start({ port: 0 });
  t.teardown(() => srv.close());
  const frame: RgbImage = { width: 4, height: 4, data: new Uint8Array(48) };
  const flow = { width: 4, height: 4, u: new Float32Array(16).fill(1), v: new Float32Array(16) };
  srv.publish(info(0), () => ({ frame, flow }), true);
  await until(() => srv.state().image !== null, 'forced encode');
  t.equal(srv.state().image!.seq, 1);
});

t.test('a frame that arrived as JPEG (an MJPEG camera) is served as it came, not encoded again', async (t) => {
  const srv = await LiveServer.start({ port: 0 });
  t.teardown(() => srv.close());
  const jpeg = encodeJpeg({ width: 8, height: 4, data: new Uint8Array(96).fill(90) }, 40);
  const flow = { width: 8, height: 4, u: new Float32Array(32).fill(1), v: new Float32Array(32) };
  srv.publish(info(0), () => ({ frame: { width: 8, height: 4, jpeg }, flow }), true);
  jpeg.fill(0); // publish copied the bytes at once: the source may reuse its buffer
  await until(() => srv.state().image !== null, 'forced encode');
  t.same(srv.state().image!.frame, [8, 4]);
  const got = (await get(srv.url + 'frame.jpg')).body;
  t.same(got, encodeJpeg({ width: 8, height: 4, data: new Uint8Array(96).fill(90) }, 40), 'the same bytes (quality 40, not the server\'s 85)');
  const fp = decodePng((await get(srv.url + 'flow.png')).body);
  t.same(Buffer.from(fp.data), Buffer.from(flowToColorPreview(flow).image.data), 'flow still coloured on the encoder thread');
});

t.test('too many pages get 503; close ends open streams', async (t) => {
  const srv = await LiveServer.start({ port: 0, maxClients: 1 });
  const ev = openEvents(srv.url);
  await until(() => srv.clientCount === 1, 'first client');
  t.equal((await get(srv.url + 'events')).status, 503);
  const ended = new Promise<void>((r) => ev.response!.on('close', () => r()));
  await srv.close();
  await ended;
  t.equal(srv.clientCount, 0);
  await srv.close();
  t.pass('close twice is fine');
});

t.test('bind problems are one-line user errors with a hint', async (t) => {
  const a = await LiveServer.start({ port: 0 });
  t.teardown(() => a.close());
  const inUse = await LiveServer.start({ port: a.port }).catch((e) => e);
  t.ok(inUse instanceof UserError);
  t.match(inUse.message, new RegExp(`port ${a.port} on 127\\.0\\.0\\.1 is in use`));
  t.match(inUse.hint, /--serve 0/);
  const badHost = await LiveServer.start({ port: 0, host: '192.0.2.123' }).catch((e) => e);
  t.ok(badHost instanceof UserError);
  t.match(badHost.message, /192\.0\.2\.123 is not an address of this machine/);
  const badPort = await LiveServer.start({ port: 70000 }).catch((e) => e);
  t.ok(badPort instanceof UserError);
  t.match(badPort.message, /bad --serve port '70000'/);
  const v6 = await LiveServer.start({ port: 0, host: '::1' }).catch((e) => e);
  if (v6 instanceof LiveServer) {
    t.match(v6.url, /^http:\/\/\[::1\]:\d+\/$/, 'IPv6 hosts are bracketed in the URL');
    await v6.close();
  } else t.ok(v6 instanceof UserError, 'no IPv6 loopback here: still a user error');
});
