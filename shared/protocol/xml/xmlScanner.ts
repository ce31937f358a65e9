/**
 * A single-pass, forgiving tokenizer for XML text. It never throws and never backtracks: on an unterminated
 * construct it simply stops. Used where what can be read out of a malformed document is wanted (the invoice
 * view, facts after a syntax error); `scanXmlDocument` is the strict one.
 */
export interface XmlScanHandler {
  /** `attributes` is the raw text after the name; see `parseAttributes`. */
  onStartTag?(name: string, attributes: string, selfClosing: boolean, offset: number): void;
  onEndTag?(name: string, offset: number): void;
  /** Raw character data between markup (entities not decoded). */
  onText?(text: string, offset: number): void;
  onCdata?(text: string, offset: number): void;
}

export function scanXml(text: string, handler: XmlScanHandler): void {
  const length = text.length;
  let pos = 0;
  while (pos < length) {
    const lt = text.indexOf('<', pos);
    if (lt < 0) {
      handler.onText?.(text.slice(pos), pos);
      return;
    }
    if (lt > pos) handler.onText?.(text.slice(pos, lt), pos);
    const next = text.charCodeAt(lt + 1);
    let end: number;
    if (text.startsWith('<!--', lt)) {
      end = text.indexOf('-->', lt + 4);
      if (end < 0) return;
      pos = end + 3;
    } else if (text.startsWith('<![CDATA[', lt)) {
      end = text.indexOf(']]>', lt + 9);
      if (end < 0) return;
      handler.onCdata?.(text.slice(lt + 9, end), lt);
      pos = end + 3;
    } else if (next === 0x3f /* ? */) {
      end = text.indexOf('?>', lt + 2);
      if (end < 0) return;
      pos = end + 2;
    } else if (next === 0x21 /* ! */) {
      end = markupEnd(text, lt + 2, 'doctype');
      if (end < 0) return;
      pos = end + 1;
    } else if (next === 0x2f /* / */) {
      end = text.indexOf('>', lt + 2);
      if (end < 0) return;
      handler.onEndTag?.(text.slice(lt + 2, end).trim(), lt);
      pos = end + 1;
    } else {
      end = markupEnd(text, lt + 1, 'startTag');
      if (end < 0) return;
      let inner = text.slice(lt + 1, end);
      const selfClosing = inner.endsWith('/');
      if (selfClosing) inner = inner.slice(0, -1);
      const name = /^[^\s/>]*/.exec(inner)![0];
      handler.onStartTag?.(name, inner.slice(name.length), selfClosing, lt);
      pos = end + 1;
    }
  }
}

/**
 * Position of the `>` closing a start tag or `<!DOCTYPE ...>`, skipping `>` inside quoted values; -1 if unterminated.
 * A start tag is unterminated when another `<` comes first; a DOCTYPE may hold an internal subset in brackets.
 */
export function markupEnd(text: string, from: number, markup: 'startTag' | 'doctype'): number {
  let depth = 0;
  let quote = 0;
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (quote) {
      if (c === quote) quote = 0;
    } else if (c === 0x22 || c === 0x27) {
      quote = c;
    } else if (markup === 'doctype' && c === 0x5b) {
      depth++;
    } else if (markup === 'doctype' && c === 0x5d) {
      depth--;
    } else if (c === 0x3e && depth <= 0) {
      return i;
    } else if (markup === 'startTag' && c === 0x3c) {
      return -1;
    }
  }
  return -1;
}

/** Attribute name → decoded value of the raw attribute text of a start tag. */
export function parseAttributes(raw: string): Map<string, string> {
  const attributes = new Map<string, string>();
  for (const match of raw.matchAll(/([^\s=]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g)) {
    if (!attributes.has(match[1])) attributes.set(match[1], decodeXmlText(match[2] ?? match[3]));
  }
  return attributes;
}

export function localName(qualifiedName: string): string {
  return qualifiedName.slice(qualifiedName.indexOf(':') + 1);
}

/** The namespace an element named `qualifiedName` declares for itself in `attributes` (its prefix's, or the default). */
export function namespaceOf(qualifiedName: string, attributes: Map<string, string>): string | undefined {
  const colon = qualifiedName.indexOf(':');
  return attributes.get(colon < 0 ? 'xmlns' : `xmlns:${qualifiedName.slice(0, colon)}`);
}

const PREDEFINED_ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

/** Resolves the predefined entities and character references; unknown references are kept as written. */
export function decodeXmlText(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(/&(#[xX][0-9a-fA-F]+|#[0-9]+|[A-Za-z]+);/g, (whole, ref: string) => {
    if (ref[0] !== '#') return PREDEFINED_ENTITIES[ref] ?? whole;
    const code = ref[1] === 'x' || ref[1] === 'X' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
    return code <= 0x10ffff ? String.fromCodePoint(code) : whole;
  });
}

/** 1-based line and column of a character offset (computed on demand: only for the few reported problems). */
export function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i >= 0 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { line, column: offset - lineStart + 1 };
}

/** Escapes text for element content and attribute values. */
export function escapeXml(value: string): string {
  return value.replace(/[<>&"']/g, (c) => `&${{ '<': 'lt', '>': 'gt', '&': 'amp', '"': 'quot', "'": 'apos' }[c]};`);
}
