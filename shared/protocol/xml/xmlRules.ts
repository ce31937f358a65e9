/**
 * The technical rules KSeF applies to every invoice file before looking at its content
 * (faktury/weryfikacja-faktury.md, CIRFMF/ksef-docs). Pure and linear in the file size: it runs on
 * every invoice, in the sandbox and as the engine's pre-flight check.
 */
import { isUtf8 } from 'node:buffer';
import { lineAndColumn } from './xmlScanner';
import { isXmlChar, scanXmlDocument, type XmlDocumentReport } from './xmlDocument';
import { InvoiceFactReader, readInvoiceFacts, type InvoiceFacts } from './invoiceFacts';

export interface XmlRuleViolation {
  /** Stable identifier of the broken rule, e.g. `bom`, `processing-instruction`. */
  rule: XmlRuleName;
  /** English, says what was found, where, and how to fix it. */
  message: string;
}

export type XmlRuleName =
  | 'size'
  | 'bom'
  | 'utf8'
  | 'encoding-declaration'
  | 'xml-version'
  | 'processing-instruction'
  | 'illegal-character'
  | 'discouraged-character'
  | 'doctype'
  | 'well-formed';

export interface XmlSizeLimits {
  /** Largest invoice without attachments, in bytes (KSeF default 1 000 000). */
  maxBytes?: number;
  /** Largest invoice with a `Zalacznik` (attachment) element, in bytes (KSeF default 3 000 000). */
  maxBytesWithAttachment?: number;
}

export const DEFAULT_MAX_INVOICE_BYTES = 1_000_000;
export const DEFAULT_MAX_INVOICE_WITH_ATTACHMENT_BYTES = 3_000_000;

/** How many occurrences of one problem are spelled out before the rest is summarised. */
const MAX_REPORTED_OCCURRENCES = 3;

const UTF8_BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/**
 * Characters XML 1.0 does not allow at all (production [2] Char): C0 controls except tab/LF/CR, U+FFFE/U+FFFF.
 * Lone surrogates, the rest of the production, cannot survive valid UTF-8; in strings `checkInvoiceText` finds them.
 */
// eslint-disable-next-line no-control-regex -- matching these control characters is the point
const ILLEGAL_CHARACTER = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g;

/** The "discouraged" ranges of XML 1.0 §2.2 that KSeF rejects (all 17 planes' last two code points above the BMP). */
const DISCOURAGED_CHARACTER =
  /[\u007F-\u0084\u0086-\u009F\uFDD0-\uFDEF]|[\uD83F\uD87F\uD8BF\uD8FF\uD93F\uD97F\uD9BF\uD9FF\uDA3F\uDA7F\uDABF\uDAFF\uDB3F\uDB7F\uDBBF\uDBFF][\uDFFE\uDFFF]/g;

/** Half of a UTF-16 surrogate pair without the other half: a JavaScript string can hold one, UTF-8 cannot encode it. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

const ATTACHMENT_ELEMENT = Buffer.from('Zalacznik');

/**
 * Checks an invoice given as a JavaScript string, before it becomes UTF-8: encoding silently turns a lone
 * surrogate into U+FFFD, so KSeF would register text the caller never wrote.
 */
export function checkInvoiceText(text: string): XmlRuleViolation[] {
  const violations: XmlRuleViolation[] = [];
  checkCharacters(text, LONE_SURROGATE, violations, (where, code, offset) => ({
    rule: 'illegal-character',
    message: `Character ${code} at ${where} (character offset ${offset}) is half of a UTF-16 surrogate pair without its other half, which UTF-8 cannot encode (it would reach KSeF as U+FFFD). The text was probably cut inside an emoji or another character beyond U+FFFF: fix the text where it was produced.`,
  }));
  return violations;
}

/** All violations of the KSeF file rules; an empty array means the file passes them. */
export function checkInvoiceXml(xml: Buffer, limits: XmlSizeLimits = {}): XmlRuleViolation[] {
  return inspect(xml, limits, undefined).violations;
}

/**
 * `checkInvoiceXml` and `readInvoiceFacts` in one pass over the text, for sending: the violations of the KSeF file
 * rules (empty when it passes) and the facts read (as far as the text could be read).
 */
export function inspectInvoiceXml(xml: Buffer, limits: XmlSizeLimits = {}): { violations: XmlRuleViolation[]; facts: InvoiceFacts } {
  return inspect(xml, limits, true);
}

function inspect(xml: Buffer, limits: XmlSizeLimits, withFacts: true | undefined): { violations: XmlRuleViolation[]; facts: InvoiceFacts } {
  const violations: XmlRuleViolation[] = [];
  // Bytes that are no UTF-8 text are read for facts as Buffer.toString reads them, replacement characters and all.
  const factsOfBytes = (): InvoiceFacts => (withFacts ? readInvoiceFacts(xml) : {});
  checkSize(xml, limits, violations);

  let content = xml;
  if (xml.subarray(0, 3).equals(UTF8_BOM)) {
    violations.push({
      rule: 'bom',
      message:
        'The file starts with a UTF-8 byte order mark (bytes EF BB BF at offset 0); KSeF requires UTF-8 without BOM. Save the file as "UTF-8" without BOM.',
    });
    content = xml.subarray(3);
  } else if (isUtf16ByteOrderMark(xml)) {
    violations.push({
      rule: 'utf8',
      message: `The file is encoded as UTF-16 (it starts with byte order mark ${xml.subarray(0, 2).toString('hex').toUpperCase()}); KSeF accepts only UTF-8 without BOM. Re-encode the file as UTF-8.`,
    });
    return { violations, facts: factsOfBytes() };
  }

  if (!isUtf8(content)) {
    const offset = firstInvalidUtf8Offset(content) + (content === xml ? 0 : 3);
    const line = countLines(xml, offset);
    violations.push({
      rule: 'utf8',
      message: `The file is not valid UTF-8: invalid byte sequence at byte offset ${offset} (line ${line}, bytes ${xml
        .subarray(offset, offset + 4)
        .toString('hex')
        .toUpperCase()}). KSeF accepts only UTF-8; re-encode the file as UTF-8 (it is probably in Windows-1250 or ISO-8859-2).`,
    });
    return { violations, facts: factsOfBytes() };
  }

  const text = content.toString('utf8');
  const reader = withFacts && new InvoiceFactReader(text, false);
  const report = scanXmlDocument(text, reader || undefined);
  checkDeclaration(report, violations);
  if (report.suspectCharacters) {
    checkCharacters(text, ILLEGAL_CHARACTER, violations, (where, code) => ({
      rule: 'illegal-character',
      message: `Character ${code} at ${where} is not allowed in XML 1.0. Remove it (control characters cannot appear in XML, not even as character references).`,
    }));
    checkCharacters(text, DISCOURAGED_CHARACTER, violations, (where, code) => ({
      rule: 'discouraged-character',
      message: `Character ${code} at ${where} is in a range KSeF rejects (XML 1.0 discouraged characters: U+007F-U+0084, U+0086-U+009F, U+FDD0-U+FDEF, U+xFFFE/U+xFFFF). Remove or replace it.`,
    }));
  }
  checkMarkup(text, report, violations);
  if (!reader) return { violations, facts: {} };
  if (report.syntaxError) reader.readOnForgivingly(text, report);
  return { violations, facts: reader.result() };
}

function checkSize(xml: Buffer, limits: XmlSizeLimits, violations: XmlRuleViolation[]): void {
  const maxPlain = limits.maxBytes ?? DEFAULT_MAX_INVOICE_BYTES;
  if (xml.length <= maxPlain) return;
  const withAttachment = hasAttachmentElement(xml);
  const max = withAttachment ? (limits.maxBytesWithAttachment ?? DEFAULT_MAX_INVOICE_WITH_ATTACHMENT_BYTES) : maxPlain;
  if (xml.length <= max) return;
  violations.push({
    rule: 'size',
    message: withAttachment
      ? `The invoice has ${xml.length} bytes; an invoice with an attachment (Zalacznik) may have at most ${max} bytes. Reduce the attachment.`
      : `The invoice has ${xml.length} bytes; an invoice without attachments may have at most ${max} bytes. Split it into several invoices or remove unnecessary content.`,
  });
}

/** True when the bytes contain a `<Zalacznik` / `<prefix:Zalacznik` start tag (FA(3) attachment). */
export function hasAttachmentElement(xml: Buffer): boolean {
  for (let at = xml.indexOf(ATTACHMENT_ELEMENT); at >= 0; at = xml.indexOf(ATTACHMENT_ELEMENT, at + 1)) {
    const before = xml[at - 1];
    const after = xml[at + ATTACHMENT_ELEMENT.length];
    const endsName = after === 0x3e || after === 0x2f || after === 0x20 || after === 0x09 || after === 0x0a || after === 0x0d;
    if (!endsName) continue;
    if (before === 0x3c) return true;
    if (before === 0x3a) {
      // `<prefix:Zalacznik`: walk back over the prefix to the `<`.
      let i = at - 2;
      while (i >= 0 && xml[i] !== 0x3c && xml[i] !== 0x3e && xml[i] !== 0x2f && xml[i] > 0x20) i--;
      if (i >= 0 && xml[i] === 0x3c) return true;
    }
  }
  return false;
}

function isUtf16ByteOrderMark(xml: Buffer): boolean {
  return xml.length >= 2 && ((xml[0] === 0xff && xml[1] === 0xfe) || (xml[0] === 0xfe && xml[1] === 0xff));
}

function firstInvalidUtf8Offset(bytes: Buffer): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i];
    let length: number;
    let min: number;
    if (b < 0x80) {
      i++;
      continue;
    } else if (b >= 0xc2 && b <= 0xdf) {
      length = 2;
      min = 0x80;
    } else if (b >= 0xe0 && b <= 0xef) {
      length = 3;
      min = 0x800;
    } else if (b >= 0xf0 && b <= 0xf4) {
      length = 4;
      min = 0x10000;
    } else {
      return i;
    }
    if (i + length > bytes.length) return i;
    let code = b & (0xff >> (length + 1));
    for (let k = 1; k < length; k++) {
      const continuation = bytes[i + k];
      if ((continuation & 0xc0) !== 0x80) return i;
      code = (code << 6) | (continuation & 0x3f);
    }
    if (code < min || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return i;
    i += length;
  }
  return bytes.length;
}

function countLines(bytes: Buffer, upTo: number): number {
  let line = 1;
  for (let i = bytes.indexOf(0x0a); i >= 0 && i < upTo; i = bytes.indexOf(0x0a, i + 1)) line++;
  return line;
}

function describeCodePoint(text: string, offset: number): string {
  const code = text.codePointAt(offset)!;
  return `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
}

function describePosition(text: string, offset: number): string {
  const { line, column } = lineAndColumn(text, offset);
  return `line ${line}, column ${column}`;
}

function checkCharacters(
  text: string,
  pattern: RegExp,
  violations: XmlRuleViolation[],
  describe: (where: string, code: string, offset: number) => XmlRuleViolation,
): void {
  pattern.lastIndex = 0;
  let found = 0;
  for (let match = pattern.exec(text); match; match = pattern.exec(text)) {
    found++;
    if (found <= MAX_REPORTED_OCCURRENCES) {
      violations.push(describe(describePosition(text, match.index), describeCodePoint(text, match.index), match.index));
    }
  }
  if (found > MAX_REPORTED_OCCURRENCES) {
    const last = violations[violations.length - 1];
    violations.push({ rule: last.rule, message: `... and ${found - MAX_REPORTED_OCCURRENCES} more such characters.` });
  }
}

function checkDeclaration(report: XmlDocumentReport, violations: XmlRuleViolation[]): void {
  const { version, encoding } = report.declaration ?? {};
  if (version !== undefined && version !== '1.0') {
    violations.push({
      rule: 'xml-version',
      message: `The XML declaration says version="${version}"; KSeF accepts XML 1.0 only. Use <?xml version="1.0" encoding="UTF-8"?>.`,
    });
  }
  if (encoding !== undefined && encoding.toUpperCase() !== 'UTF-8') {
    violations.push({
      rule: 'encoding-declaration',
      message: `The XML declaration declares encoding="${encoding}"; KSeF accepts only UTF-8. Encode the file as UTF-8 and declare encoding="UTF-8" (or omit the encoding).`,
    });
  }
}

/** Markup rules (processing instructions, a DOCTYPE, a single root element, known entities) and well-formedness, from the scan's report. */
function checkMarkup(text: string, report: XmlDocumentReport, violations: XmlRuleViolation[]): void {
  const { instructions, extraRootOffset, textOutsideRootOffset, badCharacterReferences, syntaxError } = report;
  // A DOCTYPE may declare entities; that one is reported instead of each reference.
  const unknownEntities = report.doctypeOffset === undefined ? report.unknownEntities : [];
  for (const { target, offset } of instructions.slice(0, MAX_REPORTED_OCCURRENCES)) {
    const what =
      target.toLowerCase() === 'xml'
        ? 'an XML declaration that is not at the very start of the file'
        : `processing instruction <?${target} ...?>`;
    violations.push({
      rule: 'processing-instruction',
      message: `Found ${what} at ${describePosition(text, offset)}; KSeF rejects invoices with processing instructions. Remove it${target.toLowerCase() === 'xml' ? ' (nothing, not even whitespace, may precede the XML declaration)' : ''}.`,
    });
  }
  if (instructions.length > MAX_REPORTED_OCCURRENCES) {
    violations.push({
      rule: 'processing-instruction',
      message: `... and ${instructions.length - MAX_REPORTED_OCCURRENCES} more processing instructions.`,
    });
  }
  if (report.doctypeOffset !== undefined) {
    violations.push({
      rule: 'doctype',
      message: `Found a document type declaration (<!DOCTYPE ...>) at ${describePosition(text, report.doctypeOffset)}. An invoice is defined by its XSD schema alone; a DTD, and the entities it may declare, is not checked here and has no place in a KSeF invoice. Remove it.`,
    });
  }
  if (extraRootOffset !== undefined) {
    violations.push({
      rule: 'well-formed',
      message: `The document has more than one root element (another element starts at ${describePosition(text, extraRootOffset)}). An invoice must be a single XML document with one root element.`,
    });
  }
  if (textOutsideRootOffset !== undefined) {
    violations.push({
      rule: 'well-formed',
      message: `Text outside the root element at ${describePosition(text, textOutsideRootOffset)}. Only comments and whitespace may precede or follow the root element; remove the stray text.`,
    });
  }
  for (const { reference, code, offset } of badCharacterReferences.slice(0, MAX_REPORTED_OCCURRENCES)) {
    const hex = `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
    violations.push(
      isXmlChar(code)
        ? {
            rule: 'discouraged-character',
            message: `Character reference ${reference} at ${describePosition(text, offset)} stands for ${hex}, a character KSeF rejects (XML 1.0 discouraged characters). Remove it.`,
          }
        : {
            rule: 'illegal-character',
            message: `Character reference ${reference} at ${describePosition(text, offset)} stands for ${hex}, which XML 1.0 does not allow. Remove it.`,
          },
    );
  }
  for (const { name, offset } of unknownEntities.slice(0, MAX_REPORTED_OCCURRENCES)) {
    violations.push({
      rule: 'well-formed',
      message: `Undefined entity reference &${name}; at ${describePosition(text, offset)}. Only &lt; &gt; &amp; &quot; &apos; and character references (&#...;) are defined; write the character itself or escape '&' as &amp;.`,
    });
  }

  if (syntaxError) {
    violations.push({
      rule: 'well-formed',
      message: `The file is not well-formed XML: ${syntaxError.message} (at ${describePosition(text, syntaxError.offset)}). Fix the XML syntax.`,
    });
  }
}
