// The virtual board's interrupt line with UIO semantics on an fd: write a non-zero s32 to (re-)enable, a blocking
// 4-byte read returns the s32 total event count, poll(POLLIN) tells an event is pending. The fd is a Unix stream
// socket the board serves, connected through Sys.connectUnix: from then on the same Sys read/write/pollAsync as
// /dev/uioN's fd, so the virtual board exercises exactly the board's syscall layer.
import { UserError } from '../errors.js';
import { POLLERR, POLLHUP, POLLIN, POLLNVAL } from '../sys/constants.js';
import { SysError } from '../sys/errors.js';
import type { Sys } from '../sys/types.js';
import type { IrqSource } from '../driver/uio.js';

export class EmuIrq implements IrqSource {
  readonly #sys: Sys;
  #fd: number;
  readonly #one = new Uint8Array(new Int32Array([1]).buffer);
  readonly #count = new Uint8Array(4);

  constructor(
    sys: Sys,
    readonly path: string,
    /** Name used in messages, like /dev/uioN for a board. */
    readonly device = path,
  ) {
    this.#sys = sys;
    try {
      this.#fd = sys.connectUnix(path);
    } catch (e) {
      if (e instanceof SysError && (e.code === 'ENOENT' || e.code === 'ECONNREFUSED')) {
        throw new UserError(`${device}: the virtual board's interrupt line is not there (${e.code})`, 'the emu process is not running; start it with flowfpga emu');
      }
      throw e;
    }
  }

  get fd(): number {
    return this.#fd;
  }

  #checkOpen(): number {
    if (this.#fd < 0) throw new Error(`${this.device}: used after close`);
    return this.#fd;
  }

  arm(): void {
    const n = this.#sys.write(this.#checkOpen(), this.#one);
    if (n !== 4) throw new Error(`${this.device}: short interrupt enable write (${n} bytes)`);
  }

  async wait(timeoutMs: number): Promise<number | null> {
    const fd = this.#checkOpen();
    const rev = await this.#sys.pollAsync(fd, POLLIN, timeoutMs);
    if (rev === 0) return null;
    if (rev & (POLLERR | POLLHUP | POLLNVAL) && !(rev & POLLIN)) {
      throw new UserError(`${this.device}: interrupt wait failed (poll revents 0x${rev.toString(16)})`, 'the device went away; reload the overlay');
    }
    let got = 0;
    while (got < 4) {
      const n = this.#sys.read(fd, got === 0 ? this.#count : this.#count.subarray(got), 4 - got);
      if (n === 0) {
        throw new UserError(`${this.device}: interrupt wait failed (poll revents 0x${(rev | POLLHUP).toString(16)})`, 'the device went away; reload the overlay');
      }
      got += n;
    }
    return new DataView(this.#count.buffer).getInt32(0, true);
  }

  close(): void {
    if (this.#fd >= 0) {
      const fd = this.#fd;
      this.#fd = -1;
      this.#sys.close(fd);
    }
  }
}
