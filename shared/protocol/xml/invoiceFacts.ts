/**
 * The few facts KSeF needs from an invoice (form code, seller, number, issue date, kind, attachment), read
 * from FA(2)/FA(3)/FA_RR(1) (`Faktura`) and PEF/PEF_KOR (UBL `Invoice` / `CreditNote`) documents. Reads
 * malformed XML as far as it goes and never throws: callers decide what a missing fact means.
 */
import { INVOICE_SCHEMAS, type InvoiceSchema } from '../model/formCodes';
import { decodeXmlText, localName, namespaceOf, parseAttributes, scanXml } from './xmlScanner';
import { scanXmlDocument, type XmlDocumentReport, type XmlDocumentSink } from './xmlDocument';

export interface InvoiceFacts {
  /** `Naglowek/KodFormularza` of FA-family invoices; UBL invoices carry none. */
  formCode?: { systemCode: string; schemaVersion: string; value: string };
  /** Namespace of the root element. */
  namespace?: string;
  /** Local name of the root element (`Faktura`, `Invoice`, `CreditNote`). */
  rootElement?: string;
  /** FA: `Podmiot1/DaneIdentyfikacyjne/NIP`; UBL: the supplier's VAT number without a `PL` prefix. */
  sellerNip?: string;
  /** FA: `RodzajFaktury`; UBL: `InvoiceTypeCode` / `CreditNoteTypeCode`. */
  invoiceType?: string;
  /** FA: `P_2`; FA_RR: `P_4C`; UBL: `cbc:ID`. */
  invoiceNumber?: string;
  /** FA: `P_1`; FA_RR: `P_4B`; UBL: `cbc:IssueDate`. */
  issueDate?: string;
  /** FA(3) `Zalacznik` present. */
  hasAttachment?: boolean;
}

type FactName = 'formCode' | 'sellerNip' | 'invoiceType' | 'invoiceNumber' | 'issueDate';

/** Element paths (local names, root first) whose text is a fact; the first occurrence wins. */
const FACT_PATHS: Record<string, FactName> = {
  'Faktura/Naglowek/KodFormularza': 'formCode',
  'Faktura/Podmiot1/DaneIdentyfikacyjne/NIP': 'sellerNip',
  'Faktura/Fa/P_1': 'issueDate',
  'Faktura/Fa/P_2': 'invoiceNumber',
  'Faktura/Fa/RodzajFaktury': 'invoiceType',
  'Faktura/FakturaRR/P_4B': 'issueDate',
  'Faktura/FakturaRR/P_4C': 'invoiceNumber',
  'Faktura/FakturaRR/RodzajFaktury': 'invoiceType',
  'Invoice/ID': 'invoiceNumber',
  'Invoice/IssueDate': 'issueDate',
  'Invoice/InvoiceTypeCode': 'invoiceType',
  'Invoice/AccountingSupplierParty/Party/PartyTaxScheme/CompanyID': 'sellerNip',
  'CreditNote/ID': 'invoiceNumber',
  'CreditNote/IssueDate': 'issueDate',
  'CreditNote/CreditNoteTypeCode': 'invoiceType',
  'CreditNote/AccountingSupplierParty/Party/PartyTaxScheme/CompanyID': 'sellerNip',
};

const ATTACHMENT_PATH = 'Faktura/Zalacznik';

/** FACT_PATHS and ATTACHMENT_PATH as a tree of local names, so that an element is matched against its parent's children. */
interface FactNode {
  name: string;
  fact?: FactName;
  attachment?: boolean;
  children: FactNode[];
}

const FACT_TREE: FactNode = { name: '', children: [] };
for (const path of [...Object.keys(FACT_PATHS), ATTACHMENT_PATH]) {
  let node = FACT_TREE;
  for (const name of path.split('/')) {
    let child = node.children.find((candidate) => candidate.name === name);
    if (!child) node.children.push((child = { name, children: [] }));
    node = child;
  }
  if (path === ATTACHMENT_PATH) node.attachment = true;
  else node.fact = FACT_PATHS[path];
}

/** The facts each root element can give: once all are found (and no attachment can follow), the rest is not read. */
const FACTS_OF_ROOT = new Map<string, Set<FactName>>();
for (const [path, fact] of Object.entries(FACT_PATHS)) {
  const root = path.slice(0, path.indexOf('/'));
  FACTS_OF_ROOT.set(root, (FACTS_OF_ROOT.get(root) ?? new Set()).add(fact));
}

/**
 * Collects the facts from the elements of a document as `scanXmlDocument` reads them. Only elements on a fact
 * path are looked at by name; the first occurrence of a fact wins.
 */
export class InvoiceFactReader implements XmlDocumentSink {
  readonly facts: InvoiceFacts = {};
  /** The fact tree node of each open element, undefined off the fact paths. */
  private readonly nodes: (FactNode | undefined)[] = [];
  private capture: { fact: FactName; depth: number; text: string; attributes?: Map<string, string> } | undefined;
  private wanted: Set<FactName> | undefined;
  /** Without the word anywhere, no attachment element can come later: the scan may stop once the facts are found. */
  private readonly mayHaveAttachment: boolean;

  constructor(text: string, stopWhenComplete: boolean) {
    this.mayHaveAttachment = !stopWhenComplete || text.includes('Zalacznik');
  }

  get complete(): boolean {
    if (this.mayHaveAttachment || !this.wanted) return false;
    for (const fact of this.wanted) if (this.facts[fact] === undefined) return false;
    return true;
  }

  startTag(text: string, nameStart: number, nameEnd: number, attributesEnd: number, selfClosing: boolean, depth: number): void {
    let parent: FactNode | undefined;
    if (depth > 0) {
      parent = this.nodes[depth - 1];
    } else if (this.facts.rootElement === undefined) {
      parent = FACT_TREE;
      const name = text.slice(nameStart, nameEnd);
      this.facts.rootElement = localName(name);
      this.facts.namespace = namespaceOf(name, parseAttributes(text.slice(nameEnd, attributesEnd)));
      this.wanted = FACTS_OF_ROOT.get(this.facts.rootElement);
    }
    const node = parent && childNamed(parent, text, nameStart, nameEnd);
    this.nodes[depth] = node;
    if (!node) return;
    if (node.attachment) this.facts.hasAttachment = true;
    const fact = node.fact;
    if (fact && !this.capture && this.facts[fact] === undefined) {
      const attributes = fact === 'formCode' ? parseAttributes(text.slice(nameEnd, attributesEnd)) : undefined;
      this.capture = { fact, depth: depth + 1, text: '', attributes };
      if (selfClosing) this.finishCapture();
    }
  }

  endTag(depth: number): void {
    if (this.capture && this.capture.depth > depth) this.finishCapture();
  }

  text(text: string, start: number, end: number, depth: number): void {
    if (this.capture && this.capture.depth === depth) this.capture.text += decodeXmlText(text.slice(start, end));
  }

  cdata(text: string, start: number, end: number, depth: number): void {
    if (this.capture && this.capture.depth === depth) this.capture.text += text.slice(start, end);
  }

  /** The facts read; call once the document has been read as far as it goes. */
  result(): InvoiceFacts {
    this.finishCapture();
    if (this.facts.rootElement === 'Faktura') this.facts.hasAttachment ??= false;
    return this.facts;
  }

  /**
   * Goes on reading facts after a syntax error (`report.resumeAt`) with the forgiving `scanXml`, which skips what it
   * cannot read and closes elements by name: partial facts of a malformed document are the contract.
   */
  readOnForgivingly(text: string, report: XmlDocumentReport): void {
    const names = report.openElements.map(localName);
    try {
      scanXml(text.slice(report.resumeAt), {
        onStartTag: (name, rawAttributes, selfClosing) => {
          const tag = name + rawAttributes;
          this.startTag(tag, 0, name.length, tag.length, selfClosing, names.length);
          if (!selfClosing) names.push(localName(name));
        },
        onEndTag: (name) => {
          const at = names.lastIndexOf(localName(name));
          if (at < 0) return;
          names.length = at;
          this.endTag(at);
        },
        onText: (raw) => this.text(raw, 0, raw.length, names.length),
        onCdata: (raw) => this.cdata(raw, 0, raw.length, names.length),
      });
    } catch {
      // A fact reader that throws would take the caller's error reporting with it; partial facts are the contract.
    }
  }

  private finishCapture(): void {
    const capture = this.capture;
    if (!capture) return;
    const value = capture.text.trim();
    if (capture.fact === 'formCode') {
      this.facts.formCode = {
        systemCode: capture.attributes?.get('kodSystemowy') ?? '',
        schemaVersion: capture.attributes?.get('wersjaSchemy') ?? '',
        value,
      };
    } else if (capture.fact === 'sellerNip') {
      if (value) this.facts.sellerNip = normalizeTaxNumber(value);
    } else if (value) {
      this.facts[capture.fact] = value;
    }
    this.capture = undefined;
  }
}

/** The child of `parent` whose name is the local part of the qualified name `text[nameStart, nameEnd)`. */
function childNamed(parent: FactNode, text: string, nameStart: number, nameEnd: number): FactNode | undefined {
  let localStart = nameStart;
  while (localStart < nameEnd && text.charCodeAt(localStart) !== 0x3a /* : */) localStart++;
  localStart = localStart < nameEnd ? localStart + 1 : nameStart;
  const length = nameEnd - localStart;
  for (const child of parent.children) {
    if (child.name.length === length && text.startsWith(child.name, localStart)) return child;
  }
  return undefined;
}

/** Reads the facts of `xml` as far as it goes; never throws. */
export function readInvoiceFacts(xml: Buffer | string): InvoiceFacts {
  const text = typeof xml === 'string' ? xml : xml.toString('utf8');
  const reader = new InvoiceFactReader(text, true);
  const report = scanXmlDocument(text, reader, true);
  if (report.syntaxError) reader.readOnForgivingly(text, report);
  return reader.result();
}

/** UBL writes Polish VAT numbers as `PL1234567890`; KSeF identifies sellers by the bare NIP. */
function normalizeTaxNumber(value: string): string {
  const polish = /^PL\s*(\d{10})$/i.exec(value);
  return polish ? polish[1] : value;
}

/** FA(2), FA(3) and FA_RR(1) invoices (`Faktura`) declare their form code and name the seller in Podmiot1; UBL ones don't. */
export function isFaFamily(schema: InvoiceSchema): boolean {
  return INVOICE_SCHEMAS[schema].formCode.value !== 'PEF';
}

/**
 * Why an invoice does not belong in a session of `schema`: its root namespace and, for FA-family invoices,
 * `KodFormularza` must be those of the session's form code. Empty when it fits.
 */
export function schemaMismatch(facts: InvoiceFacts, schema: InvoiceSchema): string[] {
  const expected = INVOICE_SCHEMAS[schema];
  const problems: string[] = [];
  if (facts.namespace !== expected.namespace) {
    problems.push(
      `The root element ${facts.rootElement ?? '(none)'} is in namespace ${facts.namespace ? `"${facts.namespace}"` : '(none)'}, but the session was opened for ${schema}, whose invoices use namespace "${expected.namespace}". Send the invoice in a session opened with its own form code, or convert it to ${schema}.`,
    );
  }
  if (isFaFamily(schema)) {
    const { systemCode, schemaVersion, value } = expected.formCode;
    const found = facts.formCode;
    if (!found || found.systemCode !== systemCode || found.schemaVersion !== schemaVersion || found.value !== value) {
      const declared = found ? `kodSystemowy="${found.systemCode}" wersjaSchemy="${found.schemaVersion}" ${found.value}` : 'nothing';
      problems.push(
        `Naglowek/KodFormularza declares ${declared}, but the session's form code is kodSystemowy="${systemCode}" wersjaSchemy="${schemaVersion}" ${value}. The invoice must match the schema declared when the session was opened.`,
      );
    }
  }
  return problems;
}
