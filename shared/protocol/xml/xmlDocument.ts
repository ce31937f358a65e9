/**
 * One strict pass over an XML document: XML 1.0 well-formedness (W3C XML 1.0 Fifth Edition: document, element,
 * STag/ETag/EmptyElemTag, Attribute, AttValue, Reference, Comment, CDSect, PI, XMLDecl, Name productions and the
 * "Unique Att Spec", "Element Type Match", "Legal Character" and "Entity Declared" constraints) and XML Namespaces 1.0
 * (Third Edition) namespace-well-formedness (QName names, the "Prefix Declared", "No Prefix Undeclaring", "Reserved
 * Prefixes and Namespace Names" and "Attributes Unique" constraints), together with what
 * the KSeF file rules need to see (processing instructions, roots, references) and, for a fact reader, the
 * elements and their text. It runs on every invoice before sending, so it allocates nothing per tag (namespace
 * declarations aside): names and text are passed on as offsets into the document. A document without prefixes (an
 * FA invoice: the default namespace only) pays for the namespace constraints with a colon count in each name read.
 * A namespace name is not checked to be a URI reference (RFC 3986), which no namespace constraint asks; libxml2
 * reports such a name as a namespace error, .NET's XmlReader (KSeF) accepts it.
 *
 * Character ranges (Char, discouraged characters) are checked by the caller in one regular-expression pass; here
 * a character outside the grammar only ends a name or a token.
 *
 * A DOCTYPE is reported, not parsed: an invoice is defined by its XSD schema, and the internal subset of a DTD
 * (entity declarations whose replacement text is markup) is a language of its own that this pass does not check.
 */
import { decodeXmlText, markupEnd } from './xmlScanner';

/** Receives the elements and character data of the document, as offsets into `text`. */
export interface XmlDocumentSink {
  /** `depth` is the number of elements open before this one. */
  startTag(text: string, nameStart: number, nameEnd: number, attributesEnd: number, selfClosing: boolean, depth: number): void;
  /** `depth` is the number of elements still open after this end tag. */
  endTag(depth: number): void;
  /** Raw character data (references not decoded) inside the element open at `depth`. */
  text(text: string, start: number, end: number, depth: number): void;
  cdata(text: string, start: number, end: number, depth: number): void;
  /** True when the sink needs nothing more and the caller asked to stop once it does not. */
  readonly complete: boolean;
}

export interface XmlDocumentReport {
  /** The first error after which the document cannot be read as XML; the pass stops there. */
  syntaxError?: { offset: number; message: string };
  /** Where a forgiving reader may go on after `syntaxError`: the start of the token that failed. */
  resumeAt: number;
  /** Names of the elements open at `syntaxError`, outermost first (empty without one). */
  openElements: string[];
  /**
   * False when every character read is surely allowed (ASCII controls other than tab/LF/CR, U+007F-U+009F, surrogate
   * pairs, U+FDD0-U+FDEF and U+FFFE/U+FFFF were not seen, and nothing was skipped unread: comments, CDATA sections,
   * PIs, a DOCTYPE or the rest after a syntax error): the caller's character rules need not look at the text.
   */
  suspectCharacters: boolean;
  /** The XML declaration's version and encoding as written, when the file starts with one. */
  declaration?: { version: string; encoding?: string };
  instructions: { target: string; offset: number }[];
  doctypeOffset?: number;
  /** Start of the first element after the root element was closed. */
  extraRootOffset?: number;
  textOutsideRootOffset?: number;
  unknownEntities: { name: string; offset: number }[];
  badCharacterReferences: { reference: string; code: number; offset: number }[];
}

// ASCII name characters: NameStartChar, or NameChar only, or the colon (a NameStartChar that namespaces give a meaning).
const NAME_START = 1;
const NAME_CHAR = 2;
const COLON = 3;
const ASCII_NAME = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  if (ch === ':') ASCII_NAME[c] = COLON;
  else if (/[A-Za-z_]/.test(ch)) ASCII_NAME[c] = NAME_START;
  else if (/[-.0-9]/.test(ch)) ASCII_NAME[c] = NAME_CHAR;
}

/** Offset of the first colon in the name `nameEnd` read last (-1 without one), and how many colons it has. */
let nameColon = -1;
let nameColons = 0;

/** NameStartChar above ASCII, as UTF-16 code units (a surrogate pair is checked by `nameEnd`). */
function isNonAsciiNameStart(c: number): boolean {
  return (
    (c >= 0xc0 && c <= 0xd6) ||
    (c >= 0xd8 && c <= 0xf6) ||
    (c >= 0xf8 && c <= 0x2ff) ||
    (c >= 0x370 && c <= 0x37d) ||
    (c >= 0x37f && c <= 0x1fff) ||
    c === 0x200c ||
    c === 0x200d ||
    (c >= 0x2070 && c <= 0x218f) ||
    (c >= 0x2c00 && c <= 0x2fef) ||
    (c >= 0x3001 && c <= 0xd7ff) ||
    (c >= 0xf900 && c <= 0xfdcf) ||
    (c >= 0xfdf0 && c <= 0xfffd)
  );
}

function isNonAsciiNameChar(c: number): boolean {
  return isNonAsciiNameStart(c) || c === 0xb7 || (c >= 0x300 && c <= 0x36f) || c === 0x203f || c === 0x2040;
}

/** End of the Name starting at `from` (`from` itself when there is none); its colons are left in `nameColon(s)`. */
function nameEnd(text: string, from: number): number {
  let i = from;
  let colon = -1;
  let colons = 0;
  const length = text.length;
  while (i < length) {
    const c = text.charCodeAt(i);
    if (c < 128) {
      const kind = ASCII_NAME[c];
      if (kind === 0 || (i === from && kind === NAME_CHAR)) break;
      if (kind === COLON) {
        if (colons++ === 0) colon = i;
      }
      i++;
    } else if (c >= 0xd800 && c <= 0xdb7f) {
      // U+10000-U+EFFFF, allowed anywhere in a name. The last two of each plane, discouraged characters KSeF rejects,
      // end the name here: the syntax error that follows makes the caller look at the characters.
      const low = text.charCodeAt(i + 1);
      if (!(low >= 0xdc00 && low <= 0xdffd)) break;
      i += 2;
    } else if (i === from ? isNonAsciiNameStart(c) : isNonAsciiNameChar(c)) {
      i++;
    } else {
      break;
    }
  }
  nameColon = colon;
  nameColons = colons;
  return i;
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x09 || c === 0x0d;
}

function skipSpace(text: string, from: number): number {
  let i = from;
  while (isSpace(text.charCodeAt(i))) i++;
  return i;
}

/** Whether a character outside tab/LF/CR and ASCII 0x20-0x7E may be one the character rules forbid (see `suspectCharacters`). */
function isSuspect(c: number): boolean {
  return c < 0x20
    ? c !== 0x0a && c !== 0x09 && c !== 0x0d
    : (c >= 0x7f && c <= 0x9f) || (c >= 0xd800 && c <= 0xdfff) || (c >= 0xfdd0 && c <= 0xfdef) || c >= 0xfffe;
}

/** Whether `a..a+length` and `b..b+length` of `text` hold the same characters. */
function sameText(text: string, a: number, b: number, length: number): boolean {
  for (let k = 0; k < length; k++) if (text.charCodeAt(a + k) !== text.charCodeAt(b + k)) return false;
  return true;
}

/** Up to this many attributes in one tag, a new one is compared with each before it to find duplicates. */
const MAX_COMPARED_ATTRIBUTES = 16;

const PREDEFINED_ENTITIES = ['lt;', 'gt;', 'amp;', 'quot;', 'apos;'];

export function isXmlChar(code: number): boolean {
  return (
    code === 0x9 ||
    code === 0xa ||
    code === 0xd ||
    (code >= 0x20 && code <= 0xd7ff) ||
    (code >= 0xe000 && code <= 0xfffd) ||
    (code >= 0x10000 && code <= 0x10ffff)
  );
}

export function isDiscouraged(code: number): boolean {
  return (
    (code >= 0x7f && code <= 0x84) ||
    (code >= 0x86 && code <= 0x9f) ||
    (code >= 0xfdd0 && code <= 0xfdef) ||
    (code > 0xffff && (code & 0xfffe) === 0xfffe)
  );
}

class SyntaxStop {
  constructor(
    readonly offset: number,
    readonly message: string,
  ) {}
}

function fail(offset: number, message: string): never {
  throw new SyntaxStop(offset, message);
}

/** The text at `from`, quoted for a message (at most 16 characters of its line). */
function quote(text: string, from: number): string {
  return from >= text.length ? 'the end of the file' : `'${text.slice(from, from + 16).split(/[\r\n]/)[0]}'`;
}

/** `&...;` at `at` (in content or an attribute value), checked and noted in `report`; returns the offset after it. */
function reference(text: string, at: number, report: XmlDocumentReport): number {
  if (text.charCodeAt(at + 1) === 0x23 /* # */) {
    const hex = text.charCodeAt(at + 2) === 0x78; /* x */
    let i = at + (hex ? 3 : 2);
    const digitsStart = i;
    let code = 0;
    for (; ; i++) {
      const c = text.charCodeAt(i);
      let digit: number;
      if (c >= 0x30 && c <= 0x39) digit = c - 0x30;
      else if (hex && c >= 0x61 && c <= 0x66) digit = c - 0x57;
      else if (hex && c >= 0x41 && c <= 0x46) digit = c - 0x37;
      else break;
      code = Math.min(code * (hex ? 16 : 10) + digit, 0x110000);
    }
    if (i === digitsStart || text.charCodeAt(i) !== 0x3b /* ; */) {
      fail(
        at,
        `malformed character reference ${quote(text, at)}: write &#NNNN; (decimal) or &#xHHHH; (hexadecimal), or escape '&' as &amp;`,
      );
    }
    if (!isXmlChar(code) || isDiscouraged(code)) {
      report.badCharacterReferences.push({ reference: text.slice(at, i + 1), code, offset: at });
    }
    return i + 1;
  }
  const end = nameEnd(text, at + 1);
  if (end === at + 1 || text.charCodeAt(end) !== 0x3b) {
    fail(
      at,
      `'&' is not expected here (${quote(text, at)}): an entity reference is '&' followed by a name and ';'. Escape a literal '&' as &amp;`,
    );
  }
  const length = end + 1 - (at + 1);
  let known = false;
  for (const entity of PREDEFINED_ENTITIES) if (entity.length === length && text.startsWith(entity, at + 1)) known = true;
  if (!known) report.unknownEntities.push({ name: text.slice(at + 1, end), offset: at });
  return end + 1;
}

/** Checks an attribute value between its quotes (`from` and `to` exclusive): no '<', references well-formed. */
function attributeValue(text: string, from: number, to: number, report: XmlDocumentReport, nameStart: number, nameStop: number): void {
  for (let k = from; k < to; k++) {
    const c = text.charCodeAt(k);
    if (c === 0x3c) fail(k, `'<' in the value of attribute ${text.slice(nameStart, nameStop)}: escape it as &lt;`);
    if (c === 0x26) k = reference(text, k, report) - 1;
    else if ((c < 0x20 || c >= 0x7f) && isSuspect(c)) report.suspectCharacters = true;
  }
}

const XML_NAMESPACE = 'http://www.w3.org/XML/1998/namespace';
const XMLNS_NAMESPACE = 'http://www.w3.org/2000/xmlns/';
const HOW_TO_DECLARE = 'on this element or an ancestor, or remove the prefix';

/**
 * The value of an attribute between `from` and `to` as a reader sees it (XML 1.0 §3.3.3 for CDATA attributes: each
 * line end, tab, CR and LF written in it a space, then references replaced), for the namespace names of declarations.
 * The references were checked by `attributeValue`; an undefined entity, reported there, is kept as written.
 */
function normalizedValue(text: string, from: number, to: number): string {
  return decodeXmlText(text.slice(from, to).replace(/\r\n|[\t\n\r]/g, ' '));
}

/**
 * What makes `text[start, stop)`, a Name whose first colon is at `colon` and which has `colons` colons, no QName
 * (Namespaces in XML 1.0 [7]: an NCName, or NCName ':' NCName), or undefined when it is one.
 */
function qualifiedNameProblem(text: string, start: number, stop: number, colon: number, colons: number): string | undefined {
  if (colons > 1) return 'it has more than one colon';
  if (colon === start) return 'it starts with a colon';
  if (colon === stop - 1) return 'it ends with a colon';
  const c = text.charCodeAt(colon + 1);
  const startsName = c < 128 ? ASCII_NAME[c] === NAME_START : (c >= 0xd800 && c <= 0xdbff) || isNonAsciiNameStart(c);
  return startsName ? undefined : `its local name after the colon starts with '${text[colon + 1]}', which cannot start a name`;
}

function notQualified(what: string, problem: string): string {
  return `${what} is not a qualified name, as XML namespaces require (${problem}): a name is either a plain name or prefix:localName with a single colon; rename it`;
}

/** Checks the default namespace declaration `xmlns="..."` with the value between `from` and `to`. */
function checkDefaultNamespace(text: string, attributeStart: number, from: number, to: number, nameStart: number, nameStop: number): void {
  // Only a reference can make a value of another length one of the two reserved names (which have no spaces).
  const length = to - from;
  if (length !== XML_NAMESPACE.length && length !== XMLNS_NAMESPACE.length) {
    let reference = false;
    for (let k = from; k < to && !reference; k++) reference = text.charCodeAt(k) === 0x26;
    if (!reference) return;
  }
  const uri = normalizedValue(text, from, to);
  const tag = text.slice(nameStart, nameStop);
  if (uri === XML_NAMESPACE) {
    fail(
      attributeStart,
      `xmlns="${uri}" in the start tag <${tag}>: the XML namespace belongs to the prefix xml and cannot be the default namespace; remove the declaration (write xml:name for its attributes)`,
    );
  }
  if (uri === XMLNS_NAMESPACE) {
    fail(
      attributeStart,
      `xmlns="${uri}" in the start tag <${tag}>: the xmlns namespace is reserved for namespace declarations and cannot be the default namespace; remove the declaration`,
    );
  }
}

/** Notes a prefixed attribute name in `prefixed` (four numbers each, `count` so far); returns the new count. */
function notePrefixed(prefixed: number[], count: number, start: number, colon: number, stop: number, colons: number): number {
  prefixed[count] = start;
  prefixed[count + 1] = colon;
  prefixed[count + 2] = stop;
  prefixed[count + 3] = colons;
  return count + 4;
}

const PREFIX_HASH_SIZE = 64;

function prefixHash(text: string, start: number, stop: number): number {
  let hash = 0;
  for (let k = start; k < stop; k++) hash = (hash * 31 + text.charCodeAt(k)) | 0;
  return hash & (PREFIX_HASH_SIZE - 1);
}

/**
 * The namespace prefixes declared by the open elements and the start tag being read, innermost last; the `xml` prefix
 * is predeclared. Made by the first prefixed name or prefix declaration of a document: a document with the default
 * namespace only, as invoices are written, needs none.
 */
class NamespaceScope {
  /** Where each declared prefix is written in the text (in its xmlns:prefix attribute). */
  private readonly prefixStarts: number[] = [];
  private readonly prefixLengths: number[] = [];
  private readonly uris: string[] = [];
  /** The depth of the element that declared each binding. */
  private readonly depths: number[] = [];
  private count = 0;
  /**
   * A scoped hash table over the bindings, so that a lookup compares one prefix, not each declared one (a UBL invoice
   * declares some twenty): per hash of a prefix the innermost binding, and per binding the one its hash had before.
   */
  private readonly innermost = new Int32Array(PREFIX_HASH_SIZE).fill(-1);
  private readonly shadowed: number[] = [];
  private readonly hashes: number[] = [];
  /** Namespace names of the prefixed attributes of the tag being checked. */
  private readonly attributeUris: string[] = [];

  /**
   * `xmlns:prefix="..."` (its first colon at `colon`, its value between `from` and `to`) in the start tag of the
   * element `text[nameStart, nameStop)` at `depth`.
   */
  declare(
    text: string,
    attributeStart: number,
    attributeStop: number,
    colon: number,
    colons: number,
    from: number,
    to: number,
    nameStart: number,
    nameStop: number,
    depth: number,
  ): void {
    const problem = qualifiedNameProblem(text, attributeStart, attributeStop, colon, colons);
    if (problem) {
      fail(
        attributeStart,
        notQualified(
          `the namespace declaration ${text.slice(attributeStart, attributeStop)} in the start tag <${text.slice(nameStart, nameStop)}>`,
          problem,
        ),
      );
    }
    const prefix = text.slice(colon + 1, attributeStop);
    const uri = normalizedValue(text, from, to);
    const where = (): string =>
      `${text.slice(attributeStart, attributeStop)}="${uri}" in the start tag <${text.slice(nameStart, nameStop)}>`;
    if (prefix === 'xmlns') fail(attributeStart, `${where()}: the prefix xmlns is reserved and cannot be declared; remove the declaration`);
    if (prefix === 'xml') {
      if (uri === XML_NAMESPACE) return;
      fail(
        attributeStart,
        `${where()}: the prefix xml is bound to ${XML_NAMESPACE} and to no other namespace; remove the declaration (xml needs none)`,
      );
    }
    if (uri === '') {
      fail(
        attributeStart,
        `${where()} undeclares the prefix ${prefix}, which XML 1.0 namespaces do not allow: bind ${prefix} to a namespace name, or remove the declaration and the prefix from the names below it`,
      );
    }
    if (uri === XML_NAMESPACE) {
      fail(
        attributeStart,
        `${where()}: the XML namespace belongs to the prefix xml alone; remove the declaration and write xml:name instead of ${prefix}:name`,
      );
    }
    if (uri === XMLNS_NAMESPACE) {
      fail(
        attributeStart,
        `${where()}: the xmlns namespace is reserved for namespace declarations and cannot be bound to a prefix; remove the declaration`,
      );
    }
    const k = this.count++;
    const hash = prefixHash(text, colon + 1, attributeStop);
    this.prefixStarts[k] = colon + 1;
    this.prefixLengths[k] = attributeStop - colon - 1;
    this.uris[k] = uri;
    this.depths[k] = depth;
    this.hashes[k] = hash;
    this.shadowed[k] = this.innermost[hash];
    this.innermost[hash] = k;
  }

  /** Ends the scope of the declarations of the element at `depth` (after its end tag, or its empty-element tag). */
  leave(depth: number): void {
    while (this.count > 0 && this.depths[this.count - 1] >= depth) {
      const k = --this.count;
      this.innermost[this.hashes[k]] = this.shadowed[k];
    }
  }

  /** The namespace name the prefix `text[start, stop)` is bound to, undefined when it is not declared. */
  private uriOf(text: string, start: number, stop: number): string | undefined {
    const length = stop - start;
    for (let k = this.innermost[prefixHash(text, start, stop)]; k >= 0; k = this.shadowed[k]) {
      if (this.prefixLengths[k] === length && sameText(text, this.prefixStarts[k], start, length)) return this.uris[k];
    }
    // xml is bound to its namespace only, never pushed as a binding.
    return length === 3 && text.startsWith('xml', start) ? XML_NAMESPACE : undefined;
  }

  /**
   * Checks the names of a start tag once its declarations are read: the element name (`elementColons` colons, the
   * first at `elementColon`) and the prefixed attributes (start, first colon, stop and colon count, four numbers each).
   */
  checkTag(
    text: string,
    nameStart: number,
    nameStop: number,
    elementColon: number,
    elementColons: number,
    prefixed: number[],
    prefixedCount: number,
  ): void {
    // Names are cut from the text only for a message: a start tag that passes allocates nothing.
    if (elementColons > 0) {
      const problem = qualifiedNameProblem(text, nameStart, nameStop, elementColon, elementColons);
      if (problem) fail(nameStart, notQualified(`the element name <${text.slice(nameStart, nameStop)}>`, problem));
      if (elementColon - nameStart === 5 && text.startsWith('xmlns', nameStart)) {
        fail(
          nameStart,
          `the element <${text.slice(nameStart, nameStop)}> has the prefix xmlns, which is reserved for namespace declarations and cannot be declared: rename the element`,
        );
      }
      if (this.uriOf(text, nameStart, elementColon) === undefined) {
        const prefix = text.slice(nameStart, elementColon);
        fail(
          nameStart,
          `the namespace prefix ${prefix} of the element <${text.slice(nameStart, nameStop)}> is not declared: declare xmlns:${prefix}="..." ${HOW_TO_DECLARE}`,
        );
      }
    }
    for (let k = 0; k < prefixedCount; k += 4) {
      const start = prefixed[k];
      const colon = prefixed[k + 1];
      const stop = prefixed[k + 2];
      const problem = qualifiedNameProblem(text, start, stop, colon, prefixed[k + 3]);
      if (problem)
        fail(
          start,
          notQualified(`the attribute name ${text.slice(start, stop)} in the start tag <${text.slice(nameStart, nameStop)}>`, problem),
        );
      const uri = this.uriOf(text, start, colon);
      if (uri === undefined) {
        const prefix = text.slice(start, colon);
        fail(
          start,
          `the namespace prefix ${prefix} of the attribute ${text.slice(start, stop)} in the start tag <${text.slice(nameStart, nameStop)}> is not declared: declare xmlns:${prefix}="..." ${HOW_TO_DECLARE}`,
        );
      }
      this.attributeUris[k >> 2] = uri;
    }
    // Attributes Unique: two prefixed attributes with the same local name whose prefixes are bound to the same namespace.
    const attributes = prefixedCount >> 2;
    if (attributes < 2) return;
    const seen = attributes > MAX_COMPARED_ATTRIBUTES ? new Map<string, number>() : undefined;
    for (let k = 0; k < attributes; k++) {
      const colon = prefixed[4 * k + 1];
      const length = prefixed[4 * k + 2] - colon;
      let same = -1;
      if (seen) {
        // A local name has no line end: the key cannot be read two ways.
        const key = `${text.slice(colon + 1, colon + length)}\n${this.attributeUris[k]}`;
        same = seen.get(key) ?? -1;
        seen.set(key, k);
      } else {
        for (let j = 0; j < k && same < 0; j++) {
          const other = prefixed[4 * j + 1];
          const sameLocal = prefixed[4 * j + 2] - other === length && sameText(text, other, colon, length);
          if (sameLocal && this.attributeUris[j] === this.attributeUris[k]) same = j;
        }
      }
      if (same >= 0) {
        const first = text.slice(prefixed[4 * same], prefixed[4 * same + 2]);
        const second = text.slice(prefixed[4 * k], prefixed[4 * k + 2]);
        fail(
          prefixed[4 * k],
          `the attributes ${first} and ${second} of the start tag <${text.slice(nameStart, nameStop)}> are the same attribute: both prefixes are bound to the namespace "${this.attributeUris[k]}"; keep one`,
        );
      }
    }
  }
}

/** Offset after `<!--...-->`, `<![CDATA[...]]>` (inside the root element) or the one DOCTYPE before the root element at `lt`. */
function markupDeclaration(
  text: string,
  lt: number,
  depth: number,
  rootSeen: boolean,
  report: XmlDocumentReport,
  sink: XmlDocumentSink | undefined,
): number {
  report.suspectCharacters = true;
  if (text.startsWith('<!--', lt)) {
    const dashes = text.indexOf('--', lt + 4);
    if (dashes < 0) fail(lt, "the comment is not closed with '-->'");
    if (text.charCodeAt(dashes + 2) !== 0x3e) fail(dashes, "'--' is not allowed inside a comment (and a comment cannot end with '--->')");
    return dashes + 3;
  }
  if (text.startsWith('<![CDATA[', lt)) {
    if (depth === 0) fail(lt, 'a CDATA section outside the root element');
    const end = text.indexOf(']]>', lt + 9);
    if (end < 0) fail(lt, "the CDATA section is not closed with ']]>'");
    sink?.cdata(text, lt + 9, end, depth);
    return end + 3;
  }
  if (text.startsWith('<!DOCTYPE', lt) && !rootSeen && report.doctypeOffset === undefined) {
    report.doctypeOffset = lt;
    const end = markupEnd(text, lt + 9, 'doctype');
    if (end < 0) fail(lt, "the DOCTYPE declaration is not closed with '>'");
    return end + 1;
  }
  return fail(
    lt,
    `unexpected ${quote(text, lt)}: after '<!' only a comment (<!-- -->), a CDATA section (<![CDATA[ ]]>) inside the root element, or one DOCTYPE before it may follow`,
  );
}

/** Offset after `<?target ...?>` at `lt`, noted in `report`. */
function processingInstruction(text: string, lt: number, report: XmlDocumentReport): number {
  report.suspectCharacters = true;
  const targetEnd = nameEnd(text, lt + 2);
  const end = text.indexOf('?>', targetEnd);
  if (end < 0) fail(lt, "the processing instruction is not closed with '?>'");
  report.instructions.push({ target: text.slice(lt + 2, targetEnd), offset: lt });
  return end + 2;
}

/**
 * Reads `text` as an XML document. With a `sink`, elements and character data are passed to it as they are read;
 * with `stopWhenComplete`, the pass ends as soon as the sink is complete (the report then covers only what was read).
 */
export function scanXmlDocument(text: string, sink?: XmlDocumentSink, stopWhenComplete = false): XmlDocumentReport {
  const report: XmlDocumentReport = {
    suspectCharacters: false,
    resumeAt: 0,
    openElements: [],
    instructions: [],
    unknownEntities: [],
    badCharacterReferences: [],
  };
  const length = text.length;
  // Open elements: start offset and length of each name.
  const openStart: number[] = [];
  const openLength: number[] = [];
  // Start offset and length of each attribute name of the tag being read, to find duplicates.
  const attributeNames: number[] = [];
  // Start, first colon, stop and colon count of each prefixed attribute name of the tag being read (not declarations).
  const prefixedAttributes: number[] = [];
  // Made by the first prefix declared or used (see NamespaceScope).
  let namespaces: NamespaceScope | undefined;
  let depth = 0;
  let rootClosed = false;
  let rootSeen = false;
  let pos = 0;
  let tokenStart = 0;

  try {
    if (text.startsWith('<?xml') && (isSpace(text.charCodeAt(5)) || text.charCodeAt(5) === 0x3f)) {
      const declaration = readDeclaration(text);
      if (typeof declaration === 'string') fail(0, declaration);
      report.declaration = declaration.fields;
      pos = declaration.end;
    }
    while (pos < length) {
      tokenStart = pos;
      const lt = pos;
      if (text.charCodeAt(lt) !== 0x3c) {
        // Character data up to the next '<' (text runs are short: a loop beats searching for each of '<', '&' and ']]>').
        let end = pos;
        for (; end < length; end++) {
          const c = text.charCodeAt(end);
          if (c === 0x3c) break;
          if (c === 0x26) end = reference(text, end, report) - 1;
          else if (c === 0x5d && text.charCodeAt(end + 1) === 0x5d && text.charCodeAt(end + 2) === 0x3e) {
            fail(end, "']]>' is not allowed in character data: escape '>' as &gt;");
          } else if ((c < 0x20 || c >= 0x7f) && isSuspect(c)) report.suspectCharacters = true;
        }
        if (depth > 0) {
          sink?.text(text, pos, end, depth);
        } else if (report.textOutsideRootOffset === undefined) {
          for (let k = pos; k < end; k++) {
            if (!isSpace(text.charCodeAt(k))) {
              report.textOutsideRootOffset = k;
              break;
            }
          }
        }
        pos = end;
        continue;
      }
      const next = text.charCodeAt(lt + 1);
      if (next === 0x2f /* / */) {
        const nameStart = lt + 2;
        // Usually the name is that of the open element, followed by '>': compared as it is read.
        const openName = depth > 0 ? openLength[depth - 1] : -1;
        const sameName =
          openName > 0 && text.charCodeAt(nameStart + openName) === 0x3e && sameText(text, openStart[depth - 1], nameStart, openName);
        const nameStop = sameName ? nameStart + openName : nameEnd(text, nameStart);
        if (nameStop === nameStart) fail(lt, `'</' is not followed by an element name (${quote(text, lt)})`);
        const gt = sameName ? nameStop : skipSpace(text, nameStop);
        if (text.charCodeAt(gt) !== 0x3e) fail(gt, `the end tag </${text.slice(nameStart, nameStop)}> is not closed with '>'`);
        if (depth === 0) fail(lt, `end tag </${text.slice(nameStart, nameStop)}> without a matching start tag`);
        const open = depth - 1;
        if (!sameName && (openLength[open] !== nameStop - nameStart || !sameText(text, openStart[open], nameStart, nameStop - nameStart))) {
          const expected = text.slice(openStart[open], openStart[open] + openLength[open]);
          fail(lt, `end tag </${text.slice(nameStart, nameStop)}> does not match the open element <${expected}>: expected </${expected}>`);
        }
        depth--;
        namespaces?.leave(depth);
        if (depth === 0) rootClosed = true;
        pos = gt + 1;
        if (sink) {
          sink.endTag(depth);
          // A fact is complete at the end of its element (or an empty-element tag): only then can the sink be.
          if (stopWhenComplete && sink.complete) return report;
        }
        continue;
      }
      if (next === 0x21 /* ! */) {
        pos = markupDeclaration(text, lt, depth, rootSeen, report, sink);
        continue;
      }
      if (next === 0x3f /* ? */) {
        pos = processingInstruction(text, lt, report);
        continue;
      }
      // A start tag.
      const nameStart = lt + 1;
      const nameStop = nameEnd(text, nameStart);
      const elementColon = nameColon;
      const elementColons = nameColons;
      if (nameStop === nameStart) fail(lt, `'<' is not followed by an element name (${quote(text, lt)}): escape a literal '<' as &lt;`);
      if (depth === 0) {
        if (rootClosed) report.extraRootOffset ??= lt;
        rootSeen = true;
      }
      let attributes = 0;
      let prefixed = 0;
      let manyAttributes: Set<string> | undefined;
      let i = nameStop;
      for (;;) {
        const afterSpace = skipSpace(text, i);
        const c = text.charCodeAt(afterSpace);
        if (c === 0x3e /* > */ || c === 0x2f /* / */) {
          const selfClosing = c === 0x2f;
          if (selfClosing && text.charCodeAt(afterSpace + 1) !== 0x3e) {
            fail(
              afterSpace,
              `expected '/>' or '>' to end the start tag <${text.slice(nameStart, nameStop)}>, found ${quote(text, afterSpace)}`,
            );
          }
          if (elementColons !== 0 || prefixed !== 0) {
            namespaces ??= new NamespaceScope();
            namespaces.checkTag(text, nameStart, nameStop, elementColon, elementColons, prefixedAttributes, prefixed);
          }
          sink?.startTag(text, nameStart, nameStop, afterSpace, selfClosing, depth);
          if (selfClosing) {
            namespaces?.leave(depth);
            if (depth === 0) rootClosed = true;
            pos = afterSpace + 2;
            if (stopWhenComplete && sink?.complete) return report;
          } else {
            openStart[depth] = nameStart;
            openLength[depth] = nameStop - nameStart;
            depth++;
            pos = afterSpace + 1;
          }
          break;
        }
        if (afterSpace >= length) fail(lt, `the start tag <${text.slice(nameStart, nameStop)}> is not closed with '>'`);
        const attributeStart = afterSpace;
        const attributeStop = nameEnd(text, attributeStart);
        const attributeColon = nameColon;
        const attributeColons = nameColons;
        if (attributeStop === attributeStart || afterSpace === i) {
          fail(
            afterSpace,
            `unexpected ${quote(text, afterSpace)} in the start tag <${text.slice(nameStart, nameStop)}>: attributes are written name="value", separated by spaces, and the tag ends with '>' or '/>'`,
          );
        }
        const attributeLength = attributeStop - attributeStart;
        let duplicate = false;
        if (attributes < MAX_COMPARED_ATTRIBUTES * 2) {
          for (let k = 0; k < attributes && !duplicate; k += 2) {
            duplicate = attributeNames[k + 1] === attributeLength && sameText(text, attributeNames[k], attributeStart, attributeLength);
          }
        } else {
          // Comparing each with all before it would take quadratic time on a tag with very many attributes.
          if (!manyAttributes) {
            manyAttributes = new Set();
            for (let k = 0; k < attributes; k += 2)
              manyAttributes.add(text.slice(attributeNames[k], attributeNames[k] + attributeNames[k + 1]));
          }
          const attributeName = text.slice(attributeStart, attributeStop);
          duplicate = manyAttributes.has(attributeName);
          manyAttributes.add(attributeName);
        }
        if (duplicate) {
          fail(
            attributeStart,
            `attribute ${text.slice(attributeStart, attributeStop)} appears twice in the start tag <${text.slice(nameStart, nameStop)}>: keep one`,
          );
        }
        attributeNames[attributes++] = attributeStart;
        attributeNames[attributes++] = attributeLength;
        i = skipSpace(text, attributeStop);
        if (text.charCodeAt(i) !== 0x3d /* = */) {
          fail(
            i,
            `attribute ${text.slice(attributeStart, attributeStop)} has no value: write ${text.slice(attributeStart, attributeStop)}="value"`,
          );
        }
        i = skipSpace(text, i + 1);
        const delimiter = text.charCodeAt(i);
        if (delimiter !== 0x22 && delimiter !== 0x27) {
          fail(
            i,
            `the value of attribute ${text.slice(attributeStart, attributeStop)} must be in quotes ("..." or '...'), found ${quote(text, i)}`,
          );
        }
        const valueEnd = text.indexOf(delimiter === 0x22 ? '"' : "'", i + 1);
        if (valueEnd < 0) fail(i, `the value of attribute ${text.slice(attributeStart, attributeStop)} is not closed with its quote`);
        attributeValue(text, i + 1, valueEnd, report, attributeStart, attributeStop);
        if (text.charCodeAt(attributeStart) === 0x78 /* x */ && text.startsWith('xmlns', attributeStart)) {
          if (attributeLength === 5) {
            checkDefaultNamespace(text, attributeStart, i + 1, valueEnd, nameStart, nameStop);
          } else if (attributeColon === attributeStart + 5) {
            namespaces ??= new NamespaceScope();
            namespaces.declare(
              text,
              attributeStart,
              attributeStop,
              attributeColon,
              attributeColons,
              i + 1,
              valueEnd,
              nameStart,
              nameStop,
              depth,
            );
          } else if (attributeColons !== 0) {
            prefixed = notePrefixed(prefixedAttributes, prefixed, attributeStart, attributeColon, attributeStop, attributeColons);
          }
        } else if (attributeColons !== 0) {
          prefixed = notePrefixed(prefixedAttributes, prefixed, attributeStart, attributeColon, attributeStop, attributeColons);
        }
        i = valueEnd + 1;
      }
    }
    // Every token was read (and passed to the sink): nothing is left for a forgiving reader.
    tokenStart = length;
    if (depth > 0) {
      const innermost = text.slice(openStart[depth - 1], openStart[depth - 1] + openLength[depth - 1]);
      fail(
        length,
        `the element <${innermost}> is not closed (the file ends inside it${depth > 1 ? ` and ${depth - 1} enclosing elements` : ''})`,
      );
    }
    if (!rootSeen) fail(length, 'the file has no root element');
  } catch (error) {
    if (!(error instanceof SyntaxStop)) throw error;
    report.syntaxError = { offset: error.offset, message: error.message };
    report.suspectCharacters = true;
    report.resumeAt = tokenStart;
    for (let k = 0; k < depth; k++) report.openElements.push(text.slice(openStart[k], openStart[k] + openLength[k]));
  }
  return report;
}

/** XMLDecl with its VersionInfo, EncodingDecl and SDDecl, S being exactly space, tab, CR and LF. */
const XML_DECLARATION =
  /^<\?xml[ \t\r\n]+version[ \t\r\n]*=[ \t\r\n]*(?:"([^"]*)"|'([^']*)')(?:[ \t\r\n]+encoding[ \t\r\n]*=[ \t\r\n]*(?:"([^"]*)"|'([^']*)'))?(?:[ \t\r\n]+standalone[ \t\r\n]*=[ \t\r\n]*(?:"(?:yes|no)"|'(?:yes|no)'))?[ \t\r\n]*\?>/;
const VERSION_NUMBER = /^[0-9A-Za-z_.:-]+$/;
/** EncName. */
const ENCODING_NAME = /^[A-Za-z][A-Za-z0-9._-]*$/;

/**
 * The XML declaration at offset 0 (XMLDecl: version, then optional encoding and standalone, in this order):
 * its end and fields, or what is wrong with it.
 */
function readDeclaration(text: string): { end: number; fields: { version: string; encoding?: string } } | string {
  const match = XML_DECLARATION.exec(text);
  const usage = 'write <?xml version="1.0" encoding="UTF-8"?> (version first; encoding and standalone="yes"/"no" optional, in this order)';
  if (!match) return `the XML declaration at the start of the file is malformed: ${usage}`;
  const version = match[1] ?? match[2];
  const encoding = match[3] ?? match[4];
  // Any other version is well-formed enough for libxml2 (with a warning); the caller's version rule rejects it.
  if (!VERSION_NUMBER.test(version)) return `the XML declaration has version="${version}", which is no XML version: ${usage}`;
  if (encoding !== undefined && !ENCODING_NAME.test(encoding)) {
    return `the XML declaration has encoding="${encoding}", which is no encoding name: ${usage}`;
  }
  return { end: match[0].length, fields: { version, encoding } };
}
