// .hwh (Vivado hardware handoff) reader: engine address/range/IRQ/parameters/registers and the PS's PL clock
// settings (facts.md §1.3, §1.4).
import fs from 'node:fs';
import { UserError } from '../errors.js';
import { child, children, parseXml, XmlError, type XmlElement } from './xml.js';

export interface HwhPort {
  name: string;
  dir: string;
  /** Bit width (LEFT−RIGHT+1; 1 when absent). */
  width: number;
  sigis: string;
  connections: { instance: string; port: string }[];
}

export interface HwhRegister {
  name: string;
  offset: number;
  /** Bits. */
  size: number;
  access: string;
  description: string;
  fields: { name: string; bitOffset: number; bitWidth: number; access: string }[];
}

export interface HwhModule {
  instance: string;
  fullName: string;
  vlnv: string;
  modType: string;
  params: Map<string, string>;
  ports: Map<string, HwhPort>;
  registers: HwhRegister[];
}

export interface HwhMemRange {
  instance: string;
  base: bigint;
  high: bigint;
  /** high − base + 1. */
  range: bigint;
  memType: string;
  slaveInterface: string;
  masterInterface: string;
  addressBlock: string;
}

export type IrqRoute =
  /** Wired to the PS interrupt controller: GIC ID and device-tree SPI number (= GIC ID − 32). */
  | { kind: 'gic'; gicId: number; spi: number }
  /** Wired to line `index` of an AXI INTC, which itself routes to `parent` (undefined if unwired). */
  | { kind: 'intc'; controller: string; index: number; parent?: IrqRoute };

export interface PlClock {
  index: number;
  enabled: boolean;
  div0: number;
  div1: number;
  /** Source PLL as named in the .hwh ("IO PLL", "IOPLL", ...). */
  source: string;
  /** Frequency Vivado computed, MHz (ACT value when present). */
  freqMHz: number;
}

export type PsFamily = 'zynq' | 'zynqmp';

export interface HwhDesign {
  family: PsFamily;
  device: string;
  ps: HwhModule;
  modules: Map<string, HwhModule>;
  /** The PS masters' address map. */
  addressMap: HwhMemRange[];
  clocks: PlClock[];
}

export interface EngineSelector {
  /** Exact INSTANCE name (e.g. "flowfpga_engine_0"); wins over vlnv. */
  instance?: string;
  /** VLNV match: a RegExp, or a string that matches as a prefix ("vendor:library:name"). */
  vlnv?: string | RegExp;
  /** Slave interface to take the address from when the IP has several (default: the only REGISTER range). */
  slaveInterface?: string;
}

/** Our engine's default identity: the HLS top `flowfpga_engine`, any vendor/version. */
export const DEFAULT_ENGINE_SELECTOR: EngineSelector = { vlnv: /^[^:]+:hls:flowfpga_engine:/ };

export interface EngineInfo {
  instance: string;
  vlnv: string;
  base: bigint;
  range: bigint;
  irq: IrqRoute | undefined;
  /** GIC ID the engine's interrupt ends up at (through an INTC when so wired); undefined when not wired. */
  gicId: number | undefined;
  params: Map<string, string>;
  registers: HwhRegister[];
}

/** PYNQ string2int: hex when 0x-prefixed, else decimal. */
export function hwhInt(s: string | undefined, what: string): number {
  if (s === undefined) throw new UserError(`.hwh: missing ${what}`, 'the file may be truncated or not a Vivado .hwh');
  const v = /^0x/i.test(s) ? parseInt(s.slice(2), 16) : /^-?\d+$/.test(s) ? parseInt(s, 10) : NaN;
  if (!Number.isFinite(v)) throw new UserError(`.hwh: ${what} is not an integer: "${s}"`, 'the file may be corrupt');
  return v;
}

function hwhBig(s: string | undefined, what: string): bigint {
  if (s === undefined || !/^(0x[0-9a-f]+|\d+)$/i.test(s)) {
    throw new UserError(`.hwh: ${what} is not an address: "${s ?? ''}"`, 'the file may be corrupt');
  }
  return BigInt(s);
}

function readModule(el: XmlElement): HwhModule {
  const params = new Map<string, string>();
  for (const p of children(child(el, 'PARAMETERS'), 'PARAMETER')) {
    if (p.attrs.NAME !== undefined) params.set(p.attrs.NAME, p.attrs.VALUE ?? '');
  }
  const ports = new Map<string, HwhPort>();
  for (const p of children(child(el, 'PORTS'), 'PORT')) {
    const left = p.attrs.LEFT !== undefined ? Number(p.attrs.LEFT) : 0;
    const right = p.attrs.RIGHT !== undefined ? Number(p.attrs.RIGHT) : 0;
    ports.set(p.attrs.NAME ?? '', {
      name: p.attrs.NAME ?? '',
      dir: p.attrs.DIR ?? '',
      width: Math.abs(left - right) + 1,
      sigis: p.attrs.SIGIS ?? '',
      connections: children(child(p, 'CONNECTIONS'), 'CONNECTION').map((c) => ({
        instance: c.attrs.INSTANCE ?? '',
        port: c.attrs.PORT ?? '',
      })),
    });
  }
  const registers: HwhRegister[] = [];
  for (const ab of children(child(el, 'ADDRESSBLOCKS'), 'ADDRESSBLOCK')) {
    for (const r of children(child(ab, 'REGISTERS'), 'REGISTER')) {
      const props = propMap(r);
      registers.push({
        name: r.attrs.NAME ?? '',
        offset: hwhInt(props.get('ADDRESS_OFFSET'), `ADDRESS_OFFSET of register ${r.attrs.NAME}`),
        size: hwhInt(props.get('SIZE') ?? '32', `SIZE of register ${r.attrs.NAME}`),
        access: props.get('ACCESS') ?? '',
        description: props.get('DESCRIPTION') ?? '',
        fields: children(child(r, 'FIELDS'), 'FIELD').map((f) => {
          const fp = propMap(f);
          return {
            name: f.attrs.NAME ?? '',
            bitOffset: hwhInt(fp.get('BIT_OFFSET'), `BIT_OFFSET of ${r.attrs.NAME}.${f.attrs.NAME}`),
            bitWidth: hwhInt(fp.get('BIT_WIDTH'), `BIT_WIDTH of ${r.attrs.NAME}.${f.attrs.NAME}`),
            access: fp.get('ACCESS') ?? '',
          };
        }),
      });
    }
  }
  return {
    instance: el.attrs.INSTANCE ?? '',
    fullName: el.attrs.FULLNAME ?? '',
    vlnv: el.attrs.VLNV ?? '',
    modType: el.attrs.MODTYPE ?? '',
    params,
    ports,
    registers,
  };
}

function propMap(el: XmlElement): Map<string, string> {
  const m = new Map<string, string>();
  for (const p of children(el, 'PROPERTY')) m.set(p.attrs.NAME ?? '', p.attrs.VALUE ?? '');
  return m;
}

const PS_TYPES: Record<string, PsFamily> = { processing_system7: 'zynq', zynq_ultra_ps_e: 'zynqmp' };

function num(v: string | undefined): number {
  const n = v === undefined ? NaN : Number(v);
  return Number.isFinite(n) ? n : NaN;
}

function readClocks(ps: HwhModule, family: PsFamily): PlClock[] {
  const p = ps.params;
  const out: PlClock[] = [];
  for (let n = 0; n < 4; n++) {
    const names =
      family === 'zynq'
        ? {
            en: `PCW_FPGA_FCLK${n}_ENABLE`,
            d0: `PCW_FCLK${n}_PERIPHERAL_DIVISOR0`,
            d1: `PCW_FCLK${n}_PERIPHERAL_DIVISOR1`,
            src: `PCW_FCLK${n}_PERIPHERAL_CLKSRC`,
            act: `PCW_ACT_FPGA${n}_PERIPHERAL_FREQMHZ`,
            req: `PCW_FPGA${n}_PERIPHERAL_FREQMHZ`,
          }
        : {
            en: `PSU__FPGA_PL${n}_ENABLE`,
            d0: `PSU__CRL_APB__PL${n}_REF_CTRL__DIVISOR0`,
            d1: `PSU__CRL_APB__PL${n}_REF_CTRL__DIVISOR1`,
            src: `PSU__CRL_APB__PL${n}_REF_CTRL__SRCSEL`,
            act: `PSU__CRL_APB__PL${n}_REF_CTRL__ACT_FREQMHZ`,
            req: `PSU__CRL_APB__PL${n}_REF_CTRL__FREQMHZ`,
          };
    if (!p.has(names.d0)) continue;
    const act = num(p.get(names.act));
    out.push({
      index: n,
      enabled: p.get(names.en) === '1',
      div0: hwhInt(p.get(names.d0), names.d0),
      div1: hwhInt(p.get(names.d1) ?? '1', names.d1),
      source: p.get(names.src) ?? '',
      freqMHz: Number.isFinite(act) ? act : num(p.get(names.req)),
    });
  }
  return out;
}

/** Parses .hwh text. Errors are UserErrors naming the problem. */
export function parseHwh(text: string, source = '.hwh'): HwhDesign {
  let root: XmlElement;
  try {
    root = parseXml(text);
  } catch (e) {
    if (e instanceof XmlError) throw new UserError(`${source}: not well-formed XML: ${e.message}`, 'regenerate the .hwh with Vivado (File > Export > Hardware)');
    throw e;
  }
  if (root.name !== 'EDKSYSTEM') throw new UserError(`${source}: root element is <${root.name}>, not <EDKSYSTEM>`, 'pass the .hwh written by Vivado next to the bitstream');
  const modules = new Map<string, HwhModule>();
  let psEl: XmlElement | undefined;
  let ps: HwhModule | undefined;
  let family: PsFamily | undefined;
  for (const el of children(child(root, 'MODULES'), 'MODULE')) {
    const m = readModule(el);
    modules.set(m.instance, m);
    const f = PS_TYPES[m.modType];
    if (f && !ps) {
      ps = m;
      psEl = el;
      family = f;
    }
  }
  if (!ps || !psEl || !family) {
    throw new UserError(`${source}: no Zynq processing system (processing_system7 / zynq_ultra_ps_e) in the design`, 'this runtime needs a Zynq-7000 or Zynq UltraScale+ design');
  }
  const addressMap: HwhMemRange[] = [];
  for (const r of children(child(psEl, 'MEMORYMAP'), 'MEMRANGE')) {
    const base = hwhBig(r.attrs.BASEVALUE, `BASEVALUE of ${r.attrs.INSTANCE}`);
    const high = hwhBig(r.attrs.HIGHVALUE, `HIGHVALUE of ${r.attrs.INSTANCE}`);
    addressMap.push({
      instance: r.attrs.INSTANCE ?? '',
      base,
      high,
      range: high - base + 1n,
      memType: r.attrs.MEMTYPE ?? '',
      slaveInterface: r.attrs.SLAVEBUSINTERFACE ?? '',
      masterInterface: r.attrs.MASTERBUSINTERFACE ?? '',
      addressBlock: r.attrs.ADDRESSBLOCK ?? '',
    });
  }
  const sysinfo = child(root, 'SYSTEMINFO');
  return { family, device: sysinfo?.attrs.DEVICE ?? '', ps, modules, addressMap, clocks: readClocks(ps, family) };
}

export function readHwh(path: string): HwhDesign {
  let text: string;
  try {
    text = fs.readFileSync(path, 'utf8');
  } catch (e) {
    throw new UserError(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, 'pass the .hwh that Vivado wrote next to the .bit');
  }
  return parseHwh(text, path);
}

/** GIC ID of bit `bit` of a PS interrupt input port, or undefined when the port is not one (facts.md §1.4). */
export function psIrqGicId(family: PsFamily, port: string, bit: number): number | undefined {
  if (family === 'zynq' && port === 'IRQ_F2P') {
    if (bit < 8) return 61 + bit;
    if (bit < 16) return 84 + (bit - 8);
    return undefined;
  }
  if (family === 'zynqmp' && bit < 8) {
    if (port === 'pl_ps_irq0') return 121 + bit;
    if (port === 'pl_ps_irq1') return 136 + bit;
  }
  return undefined;
}

function concatOffset(m: HwhModule, port: string): number | undefined {
  const k = /^In(\d+)$/.exec(port);
  if (!k) return undefined;
  let off = 0;
  for (let j = 0; j < Number(k[1]); j++) off += hwhInt(m.params.get(`IN${j}_WIDTH`) ?? '1', `IN${j}_WIDTH of ${m.instance}`);
  return off;
}

/**
 * Follows an interrupt net from an output port through xlconcat cells to the PS or an AXI INTC. Nets with
 * several sinks (e.g. an ILA probe beside the concat) are searched in order; the first that resolves wins.
 */
export function traceIrq(design: HwhDesign, instance: string, port: string, bit = 0, depth = 0): IrqRoute | undefined {
  if (depth > 32) return undefined;
  const m = design.modules.get(instance);
  const p = m?.ports.get(port);
  if (!p) return undefined;
  for (const c of p.connections) {
    const sink = design.modules.get(c.instance);
    if (!sink) continue;
    if (sink === design.ps) {
      const gic = psIrqGicId(design.family, c.port, bit);
      if (gic !== undefined) return { kind: 'gic', gicId: gic, spi: gic - 32 };
      continue;
    }
    if (sink.modType === 'xlconcat') {
      const off = concatOffset(sink, c.port);
      if (off === undefined) continue;
      const r = traceIrq(design, sink.instance, 'dout', off + bit, depth + 1);
      if (r) return r;
    } else if (sink.modType === 'axi_intc' && c.port === 'intr') {
      return { kind: 'intc', controller: sink.instance, index: bit, parent: traceIrq(design, sink.instance, 'irq', 0, depth + 1) };
    }
  }
  return undefined;
}

function finalGic(r: IrqRoute | undefined): number | undefined {
  if (!r) return undefined;
  return r.kind === 'gic' ? r.gicId : finalGic(r.parent);
}

function matches(m: HwhModule, sel: EngineSelector): boolean {
  // Every criterion given must hold: an instance name narrows the VLNV match, it never replaces it.
  if (sel.instance === undefined && sel.vlnv === undefined) return false;
  if (sel.instance !== undefined && m.instance !== sel.instance) return false;
  if (sel.vlnv instanceof RegExp) return sel.vlnv.test(m.vlnv);
  if (typeof sel.vlnv === 'string') return m.vlnv.startsWith(sel.vlnv);
  return true;
}

/** A VLNV pattern as a user reads it: the default engine pattern becomes "*:hls:flowfpga_engine:*". */
export function vlnvText(v: string | RegExp | undefined): string {
  if (v === undefined) return '(any)';
  if (typeof v === 'string') return `${v}*`;
  return v.source.replace(/^\^/, '').replace(/\[\^:\]\+/g, '*').replace(/:$/, ':*');
}

function describe(sel: EngineSelector): string {
  const parts: string[] = [];
  if (sel.instance !== undefined) parts.push(`instance "${sel.instance}"`);
  if (sel.vlnv !== undefined) parts.push(`VLNV ${vlnvText(sel.vlnv)}`);
  return parts.join(' and ');
}

/** The VLNV the flowfpga engine carries in every .hwh (hw/hls/run_hls.tcl: flowfpga.org:hls:flowfpga_engine:1.0). */
export const ENGINE_VLNV_TEXT = vlnvText(DEFAULT_ENGINE_SELECTOR.vlnv);

/**
 * Finds the flowfpga engine: by its VLNV, and when an instance is named, that instance must carry the engine's VLNV
 * too — a named IP that is not a flowfpga engine is refused before anything touches its registers.
 */
export function findEngine(design: HwhDesign, sel: Omit<EngineSelector, 'vlnv'> = {}, source = '.hwh'): EngineInfo {
  const want: EngineSelector = { ...sel, vlnv: DEFAULT_ENGINE_SELECTOR.vlnv };
  if (sel.instance !== undefined) {
    const m = design.modules.get(sel.instance);
    const engines = [...design.modules.values()].filter((x) => matches(x, { vlnv: want.vlnv })).map((x) => x.instance);
    const present = engines.length ? `flowfpga engines in the design: ${engines.join(', ')}` : `this design has no flowfpga engine (VLNV ${ENGINE_VLNV_TEXT})`;
    if (!m) throw new UserError(`${source}: no IP named "${sel.instance}" in the design`, `${present}; check --engine-instance`);
    if (!matches(m, want)) {
      throw new UserError(
        `${source}: instance "${sel.instance}" is ${m.vlnv || `a ${m.modType}`}, not a flowfpga engine (VLNV ${ENGINE_VLNV_TEXT})`,
        `${present}; drop --engine-instance or name the engine's instance`,
      );
    }
  }
  return findIp(design, want, source);
}

/** Finds one IP (by instance and/or VLNV) and returns its address, interrupt route, parameters and registers. */
export function findIp(design: HwhDesign, sel: EngineSelector, source = '.hwh'): EngineInfo {
  const found = [...design.modules.values()].filter((m) => matches(m, sel));
  if (found.length === 0) {
    const hls = [...design.modules.values()].filter((m) => m.vlnv.includes(':hls:')).map((m) => m.instance);
    const engine = sel.vlnv === DEFAULT_ENGINE_SELECTOR.vlnv;
    throw new UserError(
      `${source}: no IP with ${describe(sel)} in the design${engine ? ': not a flowfpga overlay' : ''}`,
      engine
        ? `load a bitstream built from hw/ (make -C hw bitstream BOARD=<board>) with the .hwh written next to it${hls.length ? `; HLS IPs here: ${hls.join(', ')}` : ''}`
        : hls.length ? `HLS IPs present: ${hls.join(', ')}` : 'pick the .hwh that belongs to this bitstream',
    );
  }
  if (found.length > 1) {
    throw new UserError(`${source}: ${found.length} IPs match ${describe(sel)}: ${found.map((m) => m.instance).join(', ')}`, 'select one with --engine-instance');
  }
  const m = found[0]!;
  let ranges = design.addressMap.filter((r) => r.instance === m.instance);
  if (sel.slaveInterface !== undefined) ranges = ranges.filter((r) => r.slaveInterface === sel.slaveInterface);
  else if (ranges.length > 1) ranges = ranges.filter((r) => r.memType === 'REGISTER');
  // The same range can appear once per PS master port; keep distinct bases.
  const distinct = [...new Map(ranges.map((r) => [`${r.base}/${r.slaveInterface}`, r])).values()];
  if (distinct.length === 0) {
    throw new UserError(`${source}: ${m.instance} is not in the processing system's address map`, 'assign it an address in the Vivado Address Editor and re-export the hardware');
  }
  if (distinct.length > 1) {
    throw new UserError(
      `${source}: ${m.instance} has ${distinct.length} address ranges (${distinct.map((r) => r.slaveInterface).join(', ')})`,
      'the engine has one AXI-Lite control interface (s_axi_control); rebuild the block design from hw/bd',
    );
  }
  const r = distinct[0]!;
  let irq: IrqRoute | undefined;
  for (const p of m.ports.values()) {
    if (p.dir === 'O' && p.sigis.toUpperCase() === 'INTERRUPT') {
      irq = traceIrq(design, m.instance, p.name);
      if (irq) break;
    }
  }
  return { instance: m.instance, vlnv: m.vlnv, base: r.base, range: r.range, irq, gicId: finalGic(irq), params: m.params, registers: m.registers };
}
