// A u-dma-buf device as the driver sees it: /sys/class/u-dma-buf/<name>/{phys_addr,size,dma_coherent,sync_*} and a
// /dev/<name> file standing in for the mmap-able buffer (u-dma-buf README; facts.md §2.4).
import fs from 'node:fs';
import path from 'node:path';

export interface FakeUdmabuf {
  /** The sysfs class folder to inject as the backend's sysfs root. */
  root: string;
  /** The folder holding the device file. */
  dev: string;
  /** Reads one of the device's sysfs attributes (what the last sync wrote). */
  attr(f: string): string;
}

export function fakeUdmabuf(dir: string, name: string, size: number, opts: { phys?: string; coherent?: '0' | '1' } = {}): FakeUdmabuf {
  const root = path.join(dir, `sys-${name}`, 'u-dma-buf');
  const d = path.join(root, name);
  fs.mkdirSync(d, { recursive: true });
  fs.writeFileSync(path.join(d, 'phys_addr'), `${opts.phys ?? '0x3f000000'}\n`);
  fs.writeFileSync(path.join(d, 'size'), `${size}\n`);
  fs.writeFileSync(path.join(d, 'dma_coherent'), `${opts.coherent ?? '0'}\n`);
  // Attributes start empty; each sync rewrites them.
  for (const a of ['sync_offset', 'sync_size', 'sync_direction', 'sync_for_device', 'sync_for_cpu']) fs.writeFileSync(path.join(d, a), '');
  const dev = path.join(dir, `dev-${name}`);
  fs.mkdirSync(dev, { recursive: true });
  fs.writeFileSync(path.join(dev, name), Buffer.alloc(size));
  return { root, dev, attr: (f) => fs.readFileSync(path.join(d, f), 'utf8') };
}
