// Run the CLI in-process (from src/, no build needed) and capture what it prints and its exit code.
import { main } from '../../src/cli/main.js';

export interface CliResult {
  stdout: string;
  stderr: string;
  code: number;
}

export async function runCli(args: string[]): Promise<CliResult> {
  const out: string[] = [];
  const err: string[] = [];
  const ow = process.stdout.write.bind(process.stdout);
  const ew = process.stderr.write.bind(process.stderr);
  const prevCode = process.exitCode;
  process.exitCode = 0;
  (process.stdout as any).write = (s: string | Uint8Array) => (out.push(String(s)), true);
  (process.stderr as any).write = (s: string | Uint8Array) => (err.push(String(s)), true);
  try {
    await main(['node', 'flowfpga', ...args]);
  } finally {
    process.stdout.write = ow;
    process.stderr.write = ew;
  }
  const code = Number(process.exitCode ?? 0);
  process.exitCode = prevCode;
  return { stdout: out.join(''), stderr: err.join(''), code };
}
