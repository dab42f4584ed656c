// Shared option parsers for CLI commands.
import { UserError } from '../errors.js';

/** "HxW" (e.g. 384x512) -> [H, W]. */
export function parseSize(s: string): [number, number] {
  const m = /^(\d+)x(\d+)$/i.exec(s.trim());
  if (!m) throw new UserError(`bad size '${s}'`, 'write it as HxW, e.g. --size 384x512');
  return [Number(m[1]), Number(m[2])];
}

export function parseIntOpt(name: string, s: string, lo: number, hi: number): number {
  const v = Number(s);
  if (!Number.isInteger(v) || v < lo || v > hi) throw new UserError(`bad ${name} '${s}'`, `expected an integer in ${lo}..${hi}`);
  return v;
}

export function fmtInt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}
