// Minimal XML reader for machine-written files (.hwh): elements and attributes only; text, comments, PIs, CDATA
// and DOCTYPE are skipped. Rejects malformed nesting with a line number instead of guessing.

export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
}

const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

/** XML 1.0 Char production: what a character reference may name (a code point outside it is a fatal error). */
function isXmlChar(cp: number): boolean {
  return cp === 0x9 || cp === 0xa || cp === 0xd || (cp >= 0x20 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff);
}

/** Expands the predefined entities and character references; a reference to no XML character throws XmlError. */
function decode(s: string, where: (msg: string) => never): string {
  if (s.indexOf('&') < 0) return s;
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-zA-Z]+);/g, (m, e: string) => {
    if (e[0] !== '#') return ENTITIES[e] ?? m;
    const digits = e[1] === 'x' ? e.slice(2) : e.slice(1);
    // Longer than any code point: parseInt would round (or reach Infinity) and fromCodePoint throw a RangeError.
    const cp = digits.replace(/^0+/, '').length > 7 ? -1 : parseInt(digits, e[1] === 'x' ? 16 : 10);
    if (!isXmlChar(cp)) where(`character reference ${m.length > 24 ? `${m.slice(0, 20)}…;` : m} is not an XML character`);
    return String.fromCodePoint(cp);
  });
}

export class XmlError extends Error {
  override name = 'XmlError';
}

function lineOf(text: string, pos: number): number {
  let n = 1;
  for (let i = text.indexOf('\n'); i >= 0 && i < pos; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

const NAME = /[A-Za-z_:][-A-Za-z0-9_.:]*/y;
const ATTR = /\s+([A-Za-z_:][-A-Za-z0-9_.:]*)\s*=\s*(?:"([^"]*)"|'([^']*)')/y;
const TAG_END = /\s*(\/?)>/y;

export function parseXml(text: string): XmlElement {
  const root: XmlElement = { name: '#document', attrs: {}, children: [] };
  const stack: XmlElement[] = [root];
  const fail = (msg: string, pos: number): never => {
    throw new XmlError(`${msg} at line ${lineOf(text, pos)}`);
  };
  let pos = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  for (;;) {
    const lt = text.indexOf('<', pos);
    if (lt < 0) break;
    const c = text[lt + 1];
    if (c === '?') {
      const e = text.indexOf('?>', lt);
      if (e < 0) fail('unterminated processing instruction', lt);
      pos = e + 2;
    } else if (text.startsWith('<!--', lt)) {
      const e = text.indexOf('-->', lt + 4);
      if (e < 0) fail('unterminated comment', lt);
      pos = e + 3;
    } else if (text.startsWith('<![CDATA[', lt)) {
      const e = text.indexOf(']]>', lt);
      if (e < 0) fail('unterminated CDATA section', lt);
      pos = e + 3;
    } else if (c === '!') {
      const e = text.indexOf('>', lt);
      if (e < 0) fail('unterminated declaration', lt);
      pos = e + 1;
    } else if (c === '/') {
      NAME.lastIndex = lt + 2;
      const m = NAME.exec(text);
      if (!m) fail('malformed closing tag', lt);
      const name = m![0];
      const top = stack[stack.length - 1]!;
      if (stack.length === 1 || top.name !== name) fail(`closing tag </${name}> does not match <${top.name}>`, lt);
      stack.pop();
      const e = text.indexOf('>', NAME.lastIndex);
      if (e < 0) fail('unterminated closing tag', lt);
      pos = e + 1;
    } else {
      NAME.lastIndex = lt + 1;
      const m = NAME.exec(text);
      if (!m) fail('malformed tag', lt);
      const el: XmlElement = { name: m![0], attrs: {}, children: [] };
      let p = NAME.lastIndex;
      for (;;) {
        ATTR.lastIndex = p;
        const a = ATTR.exec(text);
        if (!a) break;
        if (Object.prototype.hasOwnProperty.call(el.attrs, a[1]!)) fail(`duplicate attribute ${a[1]}`, p);
        const at = p;
        el.attrs[a[1]!] = decode(a[2] ?? a[3] ?? '', (msg) => fail(`${msg} in attribute ${a[1]}`, at));
        p = ATTR.lastIndex;
      }
      TAG_END.lastIndex = p;
      const end = TAG_END.exec(text);
      if (!end) fail(`malformed attributes in <${el.name}>`, p);
      stack[stack.length - 1]!.children.push(el);
      if (end![1] !== '/') stack.push(el);
      pos = TAG_END.lastIndex;
    }
  }
  if (stack.length !== 1) fail(`unclosed <${stack[stack.length - 1]!.name}>`, text.length);
  if (root.children.length !== 1) throw new XmlError(`expected one root element, found ${root.children.length}`);
  return root.children[0]!;
}

export function child(el: XmlElement, name: string): XmlElement | undefined {
  return el.children.find((c) => c.name === name);
}

export function children(el: XmlElement | undefined, name: string): XmlElement[] {
  return el ? el.children.filter((c) => c.name === name) : [];
}
