// Reports of a regression run: TAP version 14 (stdout, one test point per case, streamed as cases finish, like the
// project's own tests print) and JUnit XML (--report FILE) for CI systems.
import type { CaseResult } from './host.js';

export function tapHeader(count: number, title: string): string {
  return `TAP version 14\n# ${title}\n1..${count}\n`;
}

const yamlStr = (s: string): string => JSON.stringify(s);

/** One test point with a YAML block of numbers (and the diff on failure). */
export function tapPoint(r: CaseResult, n: number): string {
  const lines = [`${r.ok ? 'ok' : 'not ok'} ${n} - ${r.name}${r.ok ? ` # ${r.message}` : ''}`, '  ---'];
  if (!r.ok) lines.push(`  message: ${yamlStr(r.message)}`);
  lines.push(
    `  wall_ms: ${r.ms.toFixed(0)}`,
    `  board_ms: ${r.boardMs.toFixed(0)}`,
    `  reference_ms: ${r.refMs.toFixed(0)}`,
    `  bytes_to_board: ${r.bytesOut}`,
    `  bytes_from_board: ${r.bytesIn}`,
    `  link_s: ${r.linkS.toFixed(3)}`,
    `  retransmits: ${r.retransmits}`,
  );
  if (r.diag.length) {
    lines.push('  diff:');
    for (const d of r.diag) lines.push(`    - ${yamlStr(d)}`);
  }
  lines.push('  ...');
  return lines.join('\n') + '\n';
}

export function tapSummary(results: CaseResult[]): string {
  const failed = results.filter((r) => !r.ok).length;
  const link = results.reduce((s, r) => s + r.linkS, 0);
  const bytes = results.reduce((s, r) => s + r.bytesIn + r.bytesOut, 0);
  return `# ${results.length - failed}/${results.length} cases passed; ${bytes} link bytes, ${link.toFixed(2)} s of link time\n`;
}

const xml = (s: string): string =>
  s.replace(/[&<>"]/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[ch]!)
    // XML 1.0 cannot carry most control characters, even escaped.
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '?');

/** JUnit XML: one testsuite, one testcase per case; a failing case carries its message and diff; a dead link is an error. */
export function junitXml(results: CaseResult[], suite: string, extra: { bailOut?: string } = {}): string {
  const failures = results.filter((r) => !r.ok).length;
  const errors = extra.bailOut ? 1 : 0;
  const tests = results.length + errors;
  const secs = results.reduce((s, r) => s + r.ms, 0) / 1000;
  const out = ['<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="flowfpga regress" tests="${tests}" failures="${failures}" errors="${errors}" time="${secs.toFixed(3)}">`,
    `  <testsuite name="${xml(suite)}" tests="${tests}" failures="${failures}" errors="${errors}" skipped="0" time="${secs.toFixed(3)}">`];
  for (const r of results) {
    const props = `board_ms=${r.boardMs.toFixed(0)} bytes_to_board=${r.bytesOut} bytes_from_board=${r.bytesIn} link_s=${r.linkS.toFixed(3)} retransmits=${r.retransmits}`;
    out.push(`    <testcase classname="flowfpga.regress" name="${xml(r.name)}" time="${(r.ms / 1000).toFixed(3)}">`);
    if (!r.ok) out.push(`      <failure message="${xml(r.message)}" type="mismatch">${xml([r.message, ...r.diag].join('\n'))}</failure>`);
    out.push(`      <system-out>${xml(`${r.message}\n${props}`)}</system-out>`, '    </testcase>');
  }
  if (extra.bailOut) {
    out.push('    <testcase classname="flowfpga.regress" name="link" time="0">',
      `      <error message="${xml(extra.bailOut)}" type="link">${xml(extra.bailOut)}</error>`, '    </testcase>');
  }
  out.push('  </testsuite>', '</testsuites>');
  return out.join('\n') + '\n';
}
