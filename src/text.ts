// Text that comes from files (a model's name and metadata, file names) is shown to a terminal only through
// printable(): a control character there (ESC sequences, CR, BEL, bidi overrides) would otherwise rewrite the screen,
// hide text or reorder it. JSON output needs nothing: JSON.stringify escapes controls itself.

// C0 controls, DEL, C1 controls; the Unicode bidi embeddings/overrides/isolates and marks; line/paragraph separators.
const UNSAFE = /[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** `s` with every terminal control character replaced by a visible escape (\x1b, \u202e). One line, nothing hidden. */
export function printable(s: string): string {
  return s.replace(UNSAFE, (c) => {
    const n = c.charCodeAt(0);
    return n < 0x100 ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u${n.toString(16).padStart(4, '0')}`;
  });
}
