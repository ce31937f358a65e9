/**
 * The few facts KSeF needs from an invoice (form code, seller, number, issue date, kind, attachment), read
 * from FA(2)/FA(3)/FA_RR(1) (`Faktura`) and PEF/PEF_KOR (UBL `Invoice` / `CreditNote`) documents. Reads
 * malformed XML as far as it goes and never throws: callers decide what a missing fact means.
 */
import { INVOICE_SCHEMAS, type InvoiceSchema } from '../model/formCodes';
import { decodeXmlText, localName, parseAttributes, scanXml } from './xmlScanner';

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

/** The facts each root element can give: once all are found (and no attachment can follow), the rest is not read. */
const FACTS_OF_ROOT = new Map<string, Set<FactName>>();
for (const [path, fact] of Object.entries(FACT_PATHS)) {
  const root = path.slice(0, path.indexOf('/'));
  FACTS_OF_ROOT.set(root, (FACTS_OF_ROOT.get(root) ?? new Set()).add(fact));
}

/** Thrown out of the scan when every fact is known. */
const ALL_FACTS_FOUND = Symbol('all facts found');

export function readInvoiceFacts(xml: Buffer | string): InvoiceFacts {
  const text = typeof xml === 'string' ? xml : xml.toString('utf8');
  const facts: InvoiceFacts = {};
  // Local names of the open elements, and their paths joined ('Faktura/Fa/P_1'), built once per element.
  const names: string[] = [];
  const paths: string[] = [];
  let capture: { fact: FactName; depth: number; text: string; attributes: Map<string, string> } | undefined;
  let wanted: Set<FactName> | undefined;
  // Without the word anywhere, no attachment element can come later: the scan may stop once the facts are found.
  const mayHaveAttachment = text.includes('Zalacznik');
  const stopWhenComplete = (): void => {
    if (mayHaveAttachment || !wanted) return;
    for (const fact of wanted) if (facts[fact] === undefined) return;
    throw ALL_FACTS_FOUND;
  };

  try {
    scanXml(text, {
      onStartTag(name, rawAttributes, selfClosing) {
        const local = localName(name);
        if (names.length === 0) {
          if (facts.rootElement !== undefined) return;
          facts.rootElement = local;
          facts.namespace = rootNamespace(name, parseAttributes(rawAttributes));
          wanted = FACTS_OF_ROOT.get(local);
        }
        const joined = names.length === 0 ? local : `${paths[paths.length - 1]}/${local}`;
        names.push(local);
        paths.push(joined);
        if (joined === ATTACHMENT_PATH) facts.hasAttachment = true;
        const fact = FACT_PATHS[joined];
        if (fact && !capture && facts[fact] === undefined) {
          capture = { fact, depth: names.length, text: '', attributes: fact === 'formCode' ? parseAttributes(rawAttributes) : new Map() };
          if (selfClosing) {
            finishCapture();
            stopWhenComplete();
          }
        }
        if (selfClosing) {
          names.pop();
          paths.pop();
        }
      },
      onEndTag(name) {
        const at = names.lastIndexOf(localName(name));
        if (at < 0) return;
        const captured = capture && capture.depth > at;
        if (captured) finishCapture();
        names.length = at;
        paths.length = at;
        if (captured) stopWhenComplete();
      },
      onText(raw) {
        if (capture && capture.depth === names.length) capture.text += decodeXmlText(raw);
      },
      onCdata(raw) {
        if (capture && capture.depth === names.length) capture.text += raw;
      },
    });
  } catch {
    // Every fact found (ALL_FACTS_FOUND), or a fact reader that throws, which would take the caller's error
    // reporting with it; partial facts are the contract.
  }
  if (capture) finishCapture();
  if (facts.rootElement === 'Faktura') facts.hasAttachment = facts.hasAttachment ?? false;
  return facts;

  function finishCapture(): void {
    if (!capture) return;
    const value = capture.text.trim();
    if (capture.fact === 'formCode') {
      facts.formCode = {
        systemCode: capture.attributes.get('kodSystemowy') ?? '',
        schemaVersion: capture.attributes.get('wersjaSchemy') ?? '',
        value,
      };
    } else if (capture.fact === 'sellerNip') {
      if (value) facts.sellerNip = normalizeTaxNumber(value);
    } else if (value) {
      facts[capture.fact] = value;
    }
    capture = undefined;
  }
}

function rootNamespace(qualifiedName: string, attributes: Map<string, string>): string | undefined {
  const colon = qualifiedName.indexOf(':');
  return attributes.get(colon < 0 ? 'xmlns' : `xmlns:${qualifiedName.slice(0, colon)}`);
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
