// `--serve`: the live page, an HTTP server inside the flowfpga process (node:http; one page, a handful of routes).
//
// Push channel: Server-Sent Events, not a WebSocket. The page only ever receives (state snapshots), SSE is plain HTTP
// that node:http serves without a dependency or a framing layer, and the browser's EventSource reconnects by itself
// after a disconnect — which is what "keeps working when the browser goes away and comes back" needs. Images are not
// pushed: a state names the newest image pair and the page GETs it when it has finished showing the previous one.
//
// Cost to the run loop: `publish()` stores a few numbers. Only while a page is connected, and at most `imageHz` times a
// second (and no more often than keeps the encoder thread busy `encodeDuty` of the time), it also copies the frame and
// the flow into fresh buffers and hands them to the encoder thread (src/serve/encoder.ts); colour coding and JPEG/PNG
// encoding never run on the loop's thread. State messages are throttled to `stateHz` with a trailing send.
// On top of the rates, a budget: every frame earns `hostShare` × its host work (total − engine ms) of credit, the
// image work on this thread (copies, handing results over, image responses) is timed and debited, and images are
// taken only while the credit is positive — so images cannot cost the loop more than that share of its host work,
// however fast the frames come. State messages (a few hundred bytes, at most stateHz) are timed but not gated
// (docs/performance.md measures the whole).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { UserError } from '../errors.js';
import { colorWheelLegend } from '../flow/colorwheel.js';
import type { FlowField } from '../flow/flo.js';
import { encodePng, type RgbImage } from '../flow/image.js';
import type { JpegFrame } from '../flow/source.js';
import { FrameEncoder, isJpegFrame, type EncodeResult } from './encoder.js';
import { livePage } from './page.js';
import { SseClient, sseEvent } from './sse.js';
import { LiveStats, type LiveFrameInfo, type StatsSnapshot } from './stats.js';

/** `--serve` without a port. 8640: not a common development port (8000/8080/8888 often are taken). */
export const DEFAULT_SERVE_PORT = 8640;
export const DEFAULT_SERVE_HOST = '127.0.0.1';

export interface LiveServerOptions {
  port: number;
  host?: string;
  /** First line of the page (model, device, source). */
  title?: string;
  /** Most image pairs encoded per second. */
  imageHz?: number;
  /** Most state messages per second per client. */
  stateHz?: number;
  /** Largest fraction of time the encoder thread may be busy (bounds the CPU taken from a small board). */
  encodeDuty?: number;
  /** JPEG quality of the frame image. */
  jpegQuality?: number;
  /** Concurrent live pages; more get 503. */
  maxClients?: number;
  /** Bytes a client's socket may hold unsent before its messages are dropped. */
  maxBuffered?: number;
  /** Share of the loop's host work that serving may take on the loop's thread (the ≤ 10 % goal, with margin). */
  hostShare?: number;
}

/** Most credit saved up (ms): a new page gets images at once, but an idle spell cannot pay for a burst. */
const CREDIT_CAP_MS = 20;

/** Pixels for the page, pulled only when an image is due. Views are fine: they are copied before `publish` returns. */
export interface LiveImages {
  /** The current frame (the second of the pair), interleaved RGB, or the JPEG it arrived in (sent as it is). */
  frame: RgbImage | JpegFrame;
  /** The flow in pixels (coded on the encoder thread), unless `colour` is given. */
  flow?: FlowField;
  /** The colour-wheel image when the loop already made it, and its normalisation radius. */
  colour?: RgbImage;
  maxRadius?: number;
}

export interface LiveState {
  title: string;
  status: string;
  done: boolean;
  stats: StatsSnapshot;
  image: { seq: number; index: number; frame: [number, number]; flow: [number, number]; maxRadius: number | null; encodeMs: number } | null;
  /** Time the serving took on the loop's thread so far, ms. */
  serveMs: number;
}

export class LiveServer {
  readonly url: string;
  private readonly stats = new LiveStats();
  private readonly clients = new Set<SseClient>();
  private encoder: FrameEncoder | undefined;
  private latest: EncodeResult | undefined;
  private legend: Buffer | undefined;
  private seq = 0;
  private nextImageAt = 0;
  private lastStateAt = -Infinity;
  private stateTimer: NodeJS.Timeout | undefined;
  private readonly heartbeat: NodeJS.Timeout;
  private credit = CREDIT_CAP_MS;
  /** Time this thread spent serving (copies, image responses, state messages), ms. */
  serveMs = 0;
  private status = 'waiting for frames';
  private done = false;
  private o: Required<Omit<LiveServerOptions, 'port' | 'host'>>;
  /** Encoder failures (reported on the page's status line; the run goes on). */
  encodeErrors = 0;

  private constructor(private readonly server: Server, readonly host: string, readonly port: number, opts: LiveServerOptions) {
    this.o = {
      title: opts.title ?? 'flowfpga',
      imageHz: opts.imageHz ?? 10,
      stateHz: opts.stateHz ?? 10,
      encodeDuty: opts.encodeDuty ?? 0.5,
      jpegQuality: opts.jpegQuality ?? 85,
      maxClients: opts.maxClients ?? 16,
      maxBuffered: opts.maxBuffered ?? 64 * 1024,
      hostShare: opts.hostShare ?? 0.05,
    };
    this.url = `http://${host.includes(':') ? `[${host}]` : host}:${port}/`;
    server.on('request', (req, res) => this.route(req, res));
    // A comment line every 15 s lets a vanished peer (no FIN) surface as a write error or a backed-up socket.
    this.heartbeat = setInterval(() => {
      for (const c of this.clients) c.send(': ping\n\n');
    }, 15000).unref();
  }

  /** Listens on host:port (port 0 = any free port); bind problems are one-line UserErrors. */
  static async start(opts: LiveServerOptions): Promise<LiveServer> {
    const host = opts.host ?? DEFAULT_SERVE_HOST;
    if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) {
      throw new UserError(`bad --serve port '${opts.port}'`, 'expected an integer in 0..65535 (0 = any free port)');
    }
    const server = createServer();
    server.keepAliveTimeout = 5000;
    await new Promise<void>((resolve, reject) => {
      const onError = (e: NodeJS.ErrnoException) => reject(listenError(e, host, opts.port));
      server.once('error', onError);
      server.listen({ port: opts.port, host, exclusive: true }, () => {
        server.off('error', onError);
        resolve();
      });
    });
    const port = (server.address() as AddressInfo).port;
    return new LiveServer(server, host, port, opts);
  }

  get clientCount(): number {
    return this.clients.size;
  }

  /** Frames the encoder skipped because it was behind, and state messages dropped for backed-up clients. */
  get dropped(): { images: number; messages: number } {
    let messages = 0;
    for (const c of this.clients) messages += c.dropped;
    return { images: this.encoder?.dropped ?? 0, messages };
  }

  /**
   * One frame from the run loop. `images` is called (synchronously) only when a page is connected and an image is
   * due; `force` makes this frame's images due regardless of the rate and of connected pages (the last frame of a
   * finite run).
   */
  publish(info: LiveFrameInfo, images?: () => LiveImages, force = false): void {
    const now = performance.now();
    this.stats.add(info, now);
    const host = info.hostMs ?? info.timings.totalMs - info.timings.engineMs;
    if (host > 0) this.credit = Math.min(CREDIT_CAP_MS, this.credit + this.o.hostShare * host);
    if (this.status === 'waiting for frames') this.status = 'running';
    // The last frame of a finite run is encoded even with no page open, so a page opened afterwards shows it.
    if (this.clients.size === 0 && !force) return;
    if (images && (force || (now >= this.nextImageAt && this.credit > 0))) {
      this.submit(images(), info.index);
      this.spend(now);
      const e = this.encoder!.lastEncodeMs;
      this.nextImageAt = now + Math.max(1000 / this.o.imageHz, e / this.o.encodeDuty);
    }
    this.scheduleState();
  }

  /** First line of the page (model, device, source), once the run knows them. */
  setTitle(title: string): void {
    this.o.title = title;
    this.scheduleState();
  }

  /** Status line of the page, e.g. "done: 8 pairs" (`done` stops the fps from claiming a live rate). */
  setStatus(status: string, done = false): void {
    this.status = status;
    this.done = done;
    this.scheduleState();
  }

  state(): LiveState {
    const l = this.latest;
    return {
      title: this.o.title,
      status: this.status,
      done: this.done,
      stats: this.stats.snapshot(performance.now()),
      image: l ? { seq: l.seq, index: l.index, frame: l.frameSize, flow: l.flowSize, maxRadius: l.maxRadius ?? null, encodeMs: l.encodeMs } : null,
      serveMs: this.serveMs,
    };
  }

  /** Ends every connection and the encoder thread. Idempotent. */
  async close(): Promise<void> {
    clearInterval(this.heartbeat);
    if (this.stateTimer) clearTimeout(this.stateTimer);
    this.stateTimer = undefined;
    for (const c of this.clients) c.end();
    this.clients.clear();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await Promise.all([closed, this.encoder?.close()]);
  }

  // ------------------------------------------------------------------------------------------------------ internals

  /** Debits serving work that started at t0 (ms, performance.now()). */
  private spend(t0: number): void {
    const dt = performance.now() - t0;
    this.credit -= dt;
    this.serveMs += dt;
  }

  private submit(img: LiveImages, index: number): void {
    if (!this.encoder) {
      this.encoder = new FrameEncoder(
        (r) => {
          const t0 = performance.now();
          this.latest = r;
          this.scheduleState();
          this.spend(t0);
        },
        (msg) => {
          this.encodeErrors++;
          this.status = `image encoder: ${msg}`;
        },
      );
    }
    const enc = this.encoder;
    const copyRgb = (im: RgbImage): RgbImage => {
      const n = im.width * im.height * 3;
      const data = new Uint8Array(enc.take(n));
      data.set(n === im.data.length ? im.data : im.data.subarray(0, n));
      return { width: im.width, height: im.height, data };
    };
    const copyF32 = (a: Float32Array, n: number): Float32Array => {
      const out = new Float32Array(enc.take(4 * n));
      out.set(n === a.length ? a : a.subarray(0, n));
      return out;
    };
    const seq = ++this.seq;
    const f = img.frame;
    // new Uint8Array(view) copies into a fresh, whole ArrayBuffer, which is transferred to the worker (a Buffer's slice()
    // would share memory, and a small Buffer lives in Node's shared pool, which a transfer would detach).
    const frame = isJpegFrame(f) ? { width: f.width, height: f.height, jpeg: new Uint8Array(f.jpeg) } : copyRgb(f);
    if (img.colour) {
      enc.submit({ seq, index, frame, colour: copyRgb(img.colour), maxRadius: img.maxRadius, quality: this.o.jpegQuality });
    } else if (img.flow) {
      const { width, height, u, v } = img.flow;
      const n = width * height;
      enc.submit({ seq, index, frame, flow: { width, height, u: copyF32(u, n), v: copyF32(v, n) }, quality: this.o.jpegQuality });
    }
  }

  private scheduleState(): void {
    if (this.clients.size === 0 || this.stateTimer) return;
    const wait = this.lastStateAt + 1000 / this.o.stateHz - performance.now();
    if (wait <= 0) this.pushState();
    else this.stateTimer = setTimeout(() => this.pushState(), wait).unref();
  }

  private stateFrame(): string {
    return sseEvent('state', JSON.stringify(this.state()));
  }

  private pushState(): void {
    const t0 = performance.now();
    this.stateTimer = undefined;
    this.lastStateAt = t0;
    if (this.clients.size === 0) return;
    const msg = this.stateFrame();
    for (const c of this.clients) c.send(msg);
    // Counted, not debited: state messages are small and already limited to stateHz; the credit gates images.
    this.serveMs += performance.now() - t0;
  }

  private route(req: IncomingMessage, res: ServerResponse): void {
    const t0 = performance.now();
    const perFrame = this.handle(req, res);
    // Image responses recur with the frames and are paid from the credit; the page, legend and the like are paid once
    // per page load (counted in serveMs only).
    if (perFrame) this.spend(t0);
    else this.serveMs += performance.now() - t0;
  }

  /** Serves one request; true for the per-frame image routes. */
  private handle(req: IncomingMessage, res: ServerResponse): boolean {
    if (!this.hostAllowed(req.headers.host)) {
      res.writeHead(403, { 'content-type': 'text/plain' }).end('forbidden host\n');
      return false;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return false;
    }
    const path = (req.url ?? '/').split('?')[0];
    switch (path) {
      case '/':
      case '/index.html':
        send(res, 200, 'text/html; charset=utf-8', Buffer.from(livePage(this.o.title)));
        return false;
      case '/events':
        this.openEvents(req, res);
        return false;
      case '/state':
        send(res, 200, 'application/json', Buffer.from(JSON.stringify(this.state())));
        return false;
      case '/legend.png':
        this.legend ??= encodePng(colorWheelLegend(151));
        send(res, 200, 'image/png', this.legend);
        return false;
      case '/frame.jpg':
      case '/flow.png': {
        const l = this.latest;
        if (!l) {
          send(res, 404, 'text/plain', Buffer.from('no image yet\n'));
          return false;
        }
        const body = path === '/frame.jpg' ? l.frame : l.flow;
        res.setHeader('x-image-seq', String(l.seq));
        send(res, 200, path === '/frame.jpg' ? 'image/jpeg' : 'image/png', body);
        return true;
      }
      default:
        send(res, 404, 'text/plain', Buffer.from('not found\n'));
        return false;
    }
  }

  private openEvents(req: IncomingMessage, res: ServerResponse): void {
    if (this.clients.size >= this.o.maxClients) {
      send(res, 503, 'text/plain', Buffer.from(`too many live pages (${this.o.maxClients})\n`));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
    req.socket.setNoDelay(true);
    const client = new SseClient(res, this.o.maxBuffered, () => this.stateFrame());
    this.clients.add(client);
    res.on('close', () => this.clients.delete(client));
    res.write('retry: 1000\n\n'); // EventSource reconnect delay after a drop
    client.send(this.stateFrame());
    this.nextImageAt = 0; // a new page gets the next frame's images at once
  }

  /** DNS-rebinding guard: on a loopback address only loopback names may be used to reach the page. */
  private hostAllowed(header: string | undefined): boolean {
    if (!isLoopback(this.host)) return true;
    if (!header) return false;
    const name = header.startsWith('[') ? header.slice(0, header.indexOf(']') + 1) : header.replace(/:\d+$/, '');
    return name === 'localhost' || name === '[::1]' || isLoopback(name);
  }
}

function isLoopback(host: string): boolean {
  return /^127\.\d+\.\d+\.\d+$/.test(host) || host === '::1' || host === '[::1]' || host === 'localhost';
}

function send(res: ServerResponse, code: number, type: string, body: Uint8Array): void {
  res.writeHead(code, { 'content-type': type, 'content-length': body.byteLength, 'cache-control': 'no-store' });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

function listenError(e: NodeJS.ErrnoException, host: string, port: number): Error {
  switch (e.code) {
    case 'EADDRINUSE':
      return new UserError(`cannot serve the live page: port ${port} on ${host} is in use`, 'pick another with --serve PORT, or --serve 0 for any free port');
    case 'EACCES':
      return new UserError(`cannot serve the live page: not allowed to listen on port ${port}`, `ports below 1024 need root; try --serve ${DEFAULT_SERVE_PORT}`);
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new UserError(`cannot serve the live page: ${host} is not an address of this machine`, 'use --host 127.0.0.1 (this machine only) or --host 0.0.0.0 (all interfaces)');
    default:
      return new UserError(`cannot serve the live page on ${host}:${port}: ${e.message}`, 'check --host and --serve');
  }
}
