/**
 * A friendly JSON view of an FA(3) or FA(2) invoice (schemat_FA(3)_v1-0E.xsd, schemat_FA(2)_v1-0E.xsd of
 * CIRFMF/ksef-docs): parties, dates, currency, lines, VAT summary, totals, payment, the corrected invoice. Money and
 * quantities are exact decimal strings as written in the XML, never floats; what is missing or unparsable is left
 * out, never guessed. One pass of the streaming scanner, no DOM: the sandbox reads every invoice it accepts.
 */
import { KsefInputError } from '../errors';
import { INVOICE_SCHEMAS } from '../model/formCodes';
import { decodeXmlText, localName, parseAttributes, scanXml } from './xmlScanner';

export interface FriendlyParty {
  /** NIP (Polish tax id), when the party has one. */
  nip?: string;
  /** EU VAT number: `KodUE` and `NrVatUE` joined, e.g. 'DE123456789'. */
  vatUe?: string;
  /** Another tax id (`NrID`), with the country that issued it (`KodKraju` beside it) when stated. */
  otherId?: string;
  otherIdCountryCode?: string;
  /** `IDWew` of a third party: an internal id built on the NIP. */
  internalId?: string;
  /** `BrakID` = 1: the party has no tax id, or the invoice does not show it. */
  noId?: boolean;
  name?: string;
  /** One-line address: AdresL1 and AdresL2 joined. */
  address?: string;
  /** Country of the address (`Adres/KodKraju`). */
  countryCode?: string;
  /** The first e-mail address and phone number of `DaneKontaktowe`. */
  email?: string;
  phone?: string;
}

export interface FriendlyThirdParty extends FriendlyParty {
  /** `Rola` code (1 factor, 2 recipient, ..., 11 employee) and its English meaning; `RolaInna` gives `OpisRoli` as the meaning. */
  role?: number;
  roleMeaning?: string;
}

export interface FriendlyLine {
  /** `NrWierszaFa`. */
  number?: number;
  name?: string;
  quantity?: string;
  unit?: string;
  /** `P_9A` net unit price. */
  netUnitPrice?: string;
  /** `P_9B` gross unit price (invoices priced gross). */
  grossUnitPrice?: string;
  /** `P_11` net value of the line. */
  netAmount?: string;
  /** `P_11A` gross value of the line. */
  grossAmount?: string;
  /** `P_12`: '23', '8', '5', '0 KR', 'zw', 'np I', 'oo', ... as in the XML. */
  vatRate?: string;
  gtin?: string;
  pkwiu?: string;
  cn?: string;
}

export interface FriendlyVatSummary {
  /**
   * The rate: the `P_12` value the invoice's lines use for this field ('23' or '22' for P_13_1), or the field's kind
   * when the lines do not tell ('23 or 22', '8 or 7', '5', 'taxi', 'OSS', '0 KR', '0 WDT', '0 EX', 'zw', 'np I',
   * 'np II', 'oo', 'margin').
   */
  rate: string;
  /** The net field it comes from: 'P_13_1' ... 'P_13_11'. */
  field: string;
  net: string;
  /** VAT in the invoice currency (`P_14_x`), when the invoice states it for this rate. */
  vat?: string;
  /** VAT converted to PLN (`P_14_xW`), for invoices in another currency. */
  vatPln?: string;
}

export interface FriendlyInvoice {
  /** 'FA (3)' or 'FA (2)' (`KodFormularza`) */
  formCode: string;
  /** `RodzajFaktury`: VAT, KOR, ZAL, ROZ, UPR, KOR_ZAL, KOR_ROZ. */
  invoiceType?: string;
  /** `P_2` */
  invoiceNumber?: string;
  /** `P_1`, yyyy-mm-dd */
  issueDate?: string;
  /** `P_1M` */
  placeOfIssue?: string;
  /** `P_6`: date of supply or completion, when it differs from the issue date. */
  saleDate?: string;
  /** `OkresFa` (`P_6_Od`, `P_6_Do`): the period an invoice for periodic supplies covers. */
  salePeriod?: { from?: string; to?: string };
  /** `KodWaluty` */
  currency?: string;
  seller: FriendlyParty;
  buyer: FriendlyParty;
  /** `Podmiot3` entries. */
  otherParties: FriendlyThirdParty[];
  /** `PodmiotUpowazniony`, with `RolaPU` (1 enforcement authority, 2 bailiff, 3 tax representative). */
  authorizedParty?: FriendlyParty & { role?: number; roleMeaning?: string };
  lines: FriendlyLine[];
  vatSummary: FriendlyVatSummary[];
  totals: {
    /** The sum of the summary's net values, exact; left out when the invoice has no VAT summary. */
    net?: string;
    /** The sum of the summary's VAT, exact; left out when a rate that carries VAT does not state it. */
    vat?: string;
    /** The sum of the summary's VAT in PLN (`P_14_xW`), for invoices in another currency that state it for every rate. */
    vatPln?: string;
    /** `P_15` */
    gross?: string;
  };
  payment?: {
    /** `Zaplacono` = 1 */
    paid?: boolean;
    paidDate?: string;
    dueDates: string[];
    /** `FormaPlatnosci` code and meaning (1 cash, 2 card, ..., 6 transfer, 7 mobile); `PlatnoscInna` gives `OpisPlatnosci`. */
    method?: string;
    methodCode?: number;
    bankAccounts: { number: string; bankName?: string; swift?: string }[];
  };
  /** For a correction (`RodzajFaktury` KOR, KOR_ZAL, KOR_ROZ): the invoices it corrects and why. */
  correction?: {
    reason?: string;
    correctedInvoices: { invoiceNumber?: string; issueDate?: string; ksefNumber?: string }[];
  };
  /** `Adnotacje/P_17` = 1 (self-invoicing). */
  selfInvoicing?: boolean;
  /** `Zalacznik` present (FA(3)). */
  hasAttachment?: boolean;
}

/** FA(3) first: the form KSeF 2.0 issues by default. */
const FA_FORMS = [INVOICE_SCHEMAS['FA(3)'], INVOICE_SCHEMAS['FA(2)']];

/** `TRolaPodmiotu3` of the FA schemas. */
const THIRD_PARTY_ROLES: Record<number, string> = {
  1: 'factor',
  2: 'recipient',
  3: 'original entity',
  4: 'additional buyer',
  5: 'invoice issuer',
  6: 'payer',
  7: 'local government unit - issuer',
  8: 'local government unit - recipient',
  9: 'VAT group member - issuer',
  10: 'VAT group member - recipient',
  11: 'employee',
};

/** `TRolaPodmiotuUpowaznionego` of the FA schemas. */
const AUTHORIZED_PARTY_ROLES: Record<number, string> = { 1: 'enforcement authority', 2: 'court bailiff', 3: 'tax representative' };

/** `TFormaPlatnosci` of the FA schemas. */
const PAYMENT_METHODS: Record<number, string> = {
  1: 'cash',
  2: 'card',
  3: 'voucher',
  4: 'cheque',
  5: 'credit',
  6: 'transfer',
  7: 'mobile',
};

/**
 * The VAT summary fields in schema order: `P_13_x` net, `P_14_x` VAT, `P_14_xW` VAT in PLN. `lineRates` are the
 * `P_12` values that belong to the field (the label when the lines use exactly one of them), `kind` the label otherwise.
 * `vat`: the schema has `P_14_x` (the others carry no VAT: 0%, exempt, outside the scope, reverse charge, margin);
 * `vatPln`: it has `P_14_xW`.
 */
const VAT_FIELDS: { suffix: string; kind: string; lineRates: string[]; vat: boolean; vatPln: boolean }[] = [
  { suffix: '1', kind: '23 or 22', lineRates: ['23', '22'], vat: true, vatPln: true },
  { suffix: '2', kind: '8 or 7', lineRates: ['8', '7'], vat: true, vatPln: true },
  { suffix: '3', kind: '5', lineRates: ['5'], vat: true, vatPln: true },
  { suffix: '4', kind: 'taxi', lineRates: ['4', '3'], vat: true, vatPln: true },
  { suffix: '5', kind: 'OSS', lineRates: [], vat: true, vatPln: false },
  { suffix: '6_1', kind: '0 KR', lineRates: [], vat: false, vatPln: false },
  { suffix: '6_2', kind: '0 WDT', lineRates: [], vat: false, vatPln: false },
  { suffix: '6_3', kind: '0 EX', lineRates: [], vat: false, vatPln: false },
  { suffix: '7', kind: 'zw', lineRates: [], vat: false, vatPln: false },
  { suffix: '8', kind: 'np I', lineRates: [], vat: false, vatPln: false },
  { suffix: '9', kind: 'np II', lineRates: [], vat: false, vatPln: false },
  { suffix: '10', kind: 'oo', lineRates: [], vat: false, vatPln: false },
  { suffix: '11', kind: 'margin', lineRates: [], vat: false, vatPln: false },
];

const DECIMAL = /^-?\d+(\.\d+)?$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const NATURAL = /^\d+$/;
const XML_NAME = /^[A-Za-z_][\w.-]*$/;

/** What one reading collects besides the invoice itself: repeated groups are filled through their last entry. */
interface Reading {
  invoice: FriendlyInvoice;
  summary: Map<string, string>;
  correction: NonNullable<FriendlyInvoice['correction']>;
  payment?: NonNullable<FriendlyInvoice['payment']>;
  paymentOther?: boolean;
}

type ValueReader = (reading: Reading, value: string) => void;

/**
 * What the view reads, as a tree of element local names below `Faktura`: an element's text (`read`) or its start,
 * which opens a new entry of a repeated group or marks a presence (`open`). Elements outside the tree are skipped
 * with their whole subtree, without building paths or decoding text.
 */
interface ElementReader {
  children: Map<string, ElementReader>;
  read?: ValueReader;
  open?: (reading: Reading) => void;
}

const FAKTURA: ElementReader = { children: new Map() };

function elementAt(path: string): ElementReader {
  let node = FAKTURA;
  for (const name of path.split('/')) {
    let child = node.children.get(name);
    if (!child) node.children.set(name, (child = { children: new Map() }));
    node = child;
  }
  return node;
}

function readText(path: string, read: ValueReader): void {
  elementAt(path).read = read;
}
function readStart(path: string, open: (reading: Reading) => void): void {
  elementAt(path).open = open;
}

function partyPaths(
  prefix: string,
  party: (reading: Reading) => FriendlyParty | undefined,
  contact = { email: 'Email', phone: 'Telefon' },
): void {
  const set = (path: string, apply: (p: FriendlyParty, value: string) => void): void => {
    readText(`${prefix}/${path}`, (reading, value) => {
      const target = party(reading);
      if (target && value) apply(target, value);
    });
  };
  set('DaneIdentyfikacyjne/NIP', (p, v) => (p.nip = v));
  set('DaneIdentyfikacyjne/KodUE', (p, v) => (p.vatUe = v));
  set('DaneIdentyfikacyjne/NrVatUE', (p, v) => (p.vatUe = (p.vatUe ?? '') + v));
  set('DaneIdentyfikacyjne/KodKraju', (p, v) => (p.otherIdCountryCode = v));
  set('DaneIdentyfikacyjne/NrID', (p, v) => (p.otherId = v));
  set('DaneIdentyfikacyjne/IDWew', (p, v) => (p.internalId = v));
  set('DaneIdentyfikacyjne/BrakID', (p, v) => v === '1' && (p.noId = true));
  set('DaneIdentyfikacyjne/Nazwa', (p, v) => (p.name = v));
  set('Adres/KodKraju', (p, v) => (p.countryCode = v));
  set('Adres/AdresL1', (p, v) => (p.address = v));
  set('Adres/AdresL2', (p, v) => (p.address = p.address ? `${p.address}, ${v}` : v));
  set(`DaneKontaktowe/${contact.email}`, (p, v) => (p.email ??= v));
  set(`DaneKontaktowe/${contact.phone}`, (p, v) => (p.phone ??= v));
}

partyPaths('Podmiot1', (r) => r.invoice.seller);
partyPaths('Podmiot2', (r) => r.invoice.buyer);
readStart('Podmiot3', (r) => r.invoice.otherParties.push({}));
partyPaths('Podmiot3', (r) => r.invoice.otherParties.at(-1));
readText('Podmiot3/Rola', (r, v) => {
  const party = r.invoice.otherParties.at(-1)!;
  if (!NATURAL.test(v)) return;
  party.role = Number(v);
  if (THIRD_PARTY_ROLES[party.role]) party.roleMeaning = THIRD_PARTY_ROLES[party.role];
});
readText('Podmiot3/OpisRoli', (r, v) => (r.invoice.otherParties.at(-1)!.roleMeaning = v));
readStart('PodmiotUpowazniony', (r) => (r.invoice.authorizedParty = {}));
partyPaths('PodmiotUpowazniony', (r) => r.invoice.authorizedParty, { email: 'EmailPU', phone: 'TelefonPU' });
readText('PodmiotUpowazniony/RolaPU', (r, v) => {
  const party = r.invoice.authorizedParty!;
  if (!NATURAL.test(v)) return;
  party.role = Number(v);
  if (AUTHORIZED_PARTY_ROLES[party.role]) party.roleMeaning = AUTHORIZED_PARTY_ROLES[party.role];
});

function text(path: string, apply: (reading: Reading, value: string) => void): void {
  readText(path, (reading, value) => value && apply(reading, value));
}
function matching(pattern: RegExp, path: string, apply: (reading: Reading, value: string) => void): void {
  readText(path, (reading, value) => pattern.test(value) && apply(reading, value));
}

text('Fa/KodWaluty', (r, v) => (r.invoice.currency = v));
matching(DATE, 'Fa/P_1', (r, v) => (r.invoice.issueDate = v));
text('Fa/P_1M', (r, v) => (r.invoice.placeOfIssue = v));
text('Fa/P_2', (r, v) => (r.invoice.invoiceNumber = v));
matching(DATE, 'Fa/P_6', (r, v) => (r.invoice.saleDate = v));
matching(DATE, 'Fa/OkresFa/P_6_Od', (r, v) => ((r.invoice.salePeriod ??= {}).from = v));
matching(DATE, 'Fa/OkresFa/P_6_Do', (r, v) => ((r.invoice.salePeriod ??= {}).to = v));
for (const { suffix, vat, vatPln } of VAT_FIELDS) {
  const fields = [`P_13_${suffix}`, ...(vat ? [`P_14_${suffix}`] : []), ...(vatPln ? [`P_14_${suffix}W`] : [])];
  for (const field of fields) matching(DECIMAL, `Fa/${field}`, (r, v) => r.summary.set(field, v));
}
matching(DECIMAL, 'Fa/P_15', (r, v) => (r.invoice.totals.gross = v));
readText('Fa/Adnotacje/P_17', (r, v) => {
  if (v === '1' || v === '2') r.invoice.selfInvoicing = v === '1';
});
text('Fa/RodzajFaktury', (r, v) => (r.invoice.invoiceType = v));
text('Fa/PrzyczynaKorekty', (r, v) => (r.correction.reason = v));
readStart('Fa/DaneFaKorygowanej', (r) => r.correction.correctedInvoices.push({}));
matching(DATE, 'Fa/DaneFaKorygowanej/DataWystFaKorygowanej', (r, v) => (r.correction.correctedInvoices.at(-1)!.issueDate = v));
text('Fa/DaneFaKorygowanej/NrFaKorygowanej', (r, v) => (r.correction.correctedInvoices.at(-1)!.invoiceNumber = v));
text('Fa/DaneFaKorygowanej/NrKSeFFaKorygowanej', (r, v) => (r.correction.correctedInvoices.at(-1)!.ksefNumber = v));

readStart('Fa/FaWiersz', (r) => r.invoice.lines.push({}));
function line(element: string, pattern: RegExp | undefined, apply: (line: FriendlyLine, value: string) => void): void {
  readText(`Fa/FaWiersz/${element}`, (r, v) => {
    if (v && (!pattern || pattern.test(v))) apply(r.invoice.lines.at(-1)!, v);
  });
}
line('NrWierszaFa', NATURAL, (l, v) => (l.number = Number(v)));
line('P_7', undefined, (l, v) => (l.name = v));
line('P_8A', undefined, (l, v) => (l.unit = v));
line('P_8B', DECIMAL, (l, v) => (l.quantity = v));
line('P_9A', DECIMAL, (l, v) => (l.netUnitPrice = v));
line('P_9B', DECIMAL, (l, v) => (l.grossUnitPrice = v));
line('P_11', DECIMAL, (l, v) => (l.netAmount = v));
line('P_11A', DECIMAL, (l, v) => (l.grossAmount = v));
line('P_12', undefined, (l, v) => (l.vatRate = v));
line('GTIN', undefined, (l, v) => (l.gtin = v));
line('PKWiU', undefined, (l, v) => (l.pkwiu = v));
line('CN', undefined, (l, v) => (l.cn = v));

readStart('Fa/Platnosc', (r) => (r.payment = { dueDates: [], bankAccounts: [] }));
readText('Fa/Platnosc/Zaplacono', (r, v) => v === '1' && (r.payment!.paid = true));
matching(DATE, 'Fa/Platnosc/DataZaplaty', (r, v) => (r.payment!.paidDate = v));
matching(DATE, 'Fa/Platnosc/TerminPlatnosci/Termin', (r, v) => r.payment!.dueDates.push(v));
matching(NATURAL, 'Fa/Platnosc/FormaPlatnosci', (r, v) => {
  r.payment!.methodCode = Number(v);
  if (PAYMENT_METHODS[r.payment!.methodCode]) r.payment!.method = PAYMENT_METHODS[r.payment!.methodCode];
});
readText('Fa/Platnosc/PlatnoscInna', (r, v) => (r.paymentOther = v === '1'));
text('Fa/Platnosc/OpisPlatnosci', (r, v) => r.paymentOther && (r.payment!.method = v));
readStart('Fa/Platnosc/RachunekBankowy', (r) => r.payment!.bankAccounts.push({ number: '' }));
text('Fa/Platnosc/RachunekBankowy/NrRB', (r, v) => (r.payment!.bankAccounts.at(-1)!.number = v));
text('Fa/Platnosc/RachunekBankowy/SWIFT', (r, v) => (r.payment!.bankAccounts.at(-1)!.swift = v));
text('Fa/Platnosc/RachunekBankowy/NazwaBanku', (r, v) => (r.payment!.bankAccounts.at(-1)!.bankName = v));
readStart('Zalacznik', (r) => (r.invoice.hasAttachment = true));

/** A friendly JSON view of an FA(3)/FA(2) invoice; throws `KsefInputError` when `xml` is not such an invoice. */
export function readInvoiceJson(xml: Buffer | string): FriendlyInvoice {
  const source = typeof xml === 'string' ? xml : xml.toString('utf8');
  let reading: Reading | undefined;
  /** The readers of the open elements, root first; undefined inside a subtree the view skips. */
  const openReaders: (ElementReader | undefined)[] = [];
  const openNames: string[] = [];
  let leafText = '';
  /** The innermost open element is read and has no child element (yet): its text is a value. */
  let atLeaf = false;
  let rootClosed = false;

  scanXml(source, {
    onStartTag(name, rawAttributes, selfClosing) {
      if (rootClosed) return;
      let element: ElementReader | undefined;
      if (openNames.length === 0) {
        const root = localName(name);
        if (!XML_NAME.test(root)) throw notXml();
        reading = startReading(root, rootNamespace(name, rawAttributes));
        element = FAKTURA;
      } else {
        element = openReaders[openReaders.length - 1]?.children.get(localName(name));
        element?.open?.(reading!);
      }
      atLeaf = !selfClosing && element?.read !== undefined;
      leafText = '';
      if (selfClosing) {
        if (openNames.length === 0) rootClosed = true;
        return;
      }
      openReaders.push(element);
      openNames.push(name);
    },
    onEndTag(name) {
      if (rootClosed) return;
      if (openNames[openNames.length - 1] !== name) {
        throw notWellFormed(`the end tag </${name}> does not close <${openNames.at(-1) ?? '(nothing)'}>`);
      }
      openNames.pop();
      const element = openReaders.pop();
      if (atLeaf) element!.read!(reading!, leafText.trim());
      atLeaf = false;
      if (openNames.length === 0) rootClosed = true;
    },
    onText(raw) {
      if (atLeaf) leafText += decodeXmlText(raw);
      else if (!reading && raw.trim()) throw notXml();
    },
    onCdata(raw) {
      if (atLeaf) leafText += raw;
    },
  });

  if (!reading) throw notXml();
  if (!rootClosed) throw notWellFormed(`it ends before </${openNames[0]}> (truncated or not well-formed)`);
  return finishReading(reading);
}

const EXPECTED = 'readInvoiceJson reads FA(3) and FA(2) invoices (root element Faktura of their namespaces).';

function notXml(): KsefInputError {
  return new KsefInputError(`The document is not XML: it does not start with an element. ${EXPECTED}`, { field: 'xml' });
}

function notWellFormed(detail: string): KsefInputError {
  return new KsefInputError(`The invoice XML is not well-formed: ${detail}. ${EXPECTED}`, { field: 'xml' });
}

function rootNamespace(qualifiedName: string, rawAttributes: string): string | undefined {
  const colon = qualifiedName.indexOf(':');
  return parseAttributes(rawAttributes).get(colon < 0 ? 'xmlns' : `xmlns:${qualifiedName.slice(0, colon)}`);
}

function startReading(root: string, namespace: string | undefined): Reading {
  const form = FA_FORMS.find((schema) => schema.namespace === namespace);
  if (root !== 'Faktura' || !form) {
    const known = Object.entries(INVOICE_SCHEMAS).find(([, schema]) => schema.namespace === namespace)?.[0];
    const where = namespace ? `namespace "${namespace}"` : 'no namespace';
    throw new KsefInputError(`The document's root element is <${root}> in ${where}${known ? `, a ${known} document` : ''}. ${EXPECTED}`, {
      field: 'xml',
    });
  }
  // Every key in the order a reader expects; the ones the invoice does not fill are dropped at the end.
  const invoice: FriendlyInvoice = {
    formCode: form.formCode.systemCode,
    invoiceType: undefined,
    invoiceNumber: undefined,
    issueDate: undefined,
    placeOfIssue: undefined,
    saleDate: undefined,
    salePeriod: undefined,
    currency: undefined,
    seller: {},
    buyer: {},
    otherParties: [],
    authorizedParty: undefined,
    lines: [],
    vatSummary: [],
    totals: { net: undefined, vat: undefined, vatPln: undefined, gross: undefined },
    payment: undefined,
    correction: undefined,
    selfInvoicing: undefined,
    hasAttachment: false,
  };
  return { invoice, summary: new Map(), correction: { correctedInvoices: [] } };
}

function finishReading(reading: Reading): FriendlyInvoice {
  const { invoice, summary, payment, correction } = reading;
  const lineRates = new Set(invoice.lines.map((l) => l.vatRate));
  for (const field of VAT_FIELDS) {
    const net = summary.get(`P_13_${field.suffix}`);
    if (net === undefined) continue;
    const usedRates = field.lineRates.filter((rate) => lineRates.has(rate));
    const entry: FriendlyVatSummary = { rate: usedRates.length === 1 ? usedRates[0] : field.kind, field: `P_13_${field.suffix}`, net };
    const vat = summary.get(`P_14_${field.suffix}`);
    const vatPln = summary.get(`P_14_${field.suffix}W`);
    if (vat !== undefined) entry.vat = vat;
    if (vatPln !== undefined) entry.vatPln = vatPln;
    invoice.vatSummary.push(entry);
  }
  Object.assign(invoice.totals, summaryTotals(invoice));
  if (payment) {
    payment.bankAccounts = payment.bankAccounts.filter((account) => account.number);
    invoice.payment = payment;
  }
  if (invoice.invoiceType?.startsWith('KOR')) invoice.correction = correction;
  dropUndefined(invoice.totals);
  return dropUndefined(invoice);
}

function dropUndefined<T extends object>(value: T): T {
  for (const key of Object.keys(value) as (keyof T)[]) if (value[key] === undefined) delete value[key];
  return value;
}

function summaryTotals(invoice: FriendlyInvoice): FriendlyInvoice['totals'] {
  const entries = invoice.vatSummary;
  if (entries.length === 0) return {};
  const carriesVat = (entry: FriendlyVatSummary): boolean => VAT_FIELDS.find((f) => `P_13_${f.suffix}` === entry.field)!.vat;
  const totals: FriendlyInvoice['totals'] = { net: addDecimals(entries.map((e) => e.net)) };
  const taxed = entries.filter(carriesVat);
  if (taxed.every((e) => e.vat !== undefined))
    totals.vat = addDecimals(
      taxed.map((e) => e.vat!),
      entries[0].net,
    );
  const foreign = invoice.currency !== undefined && invoice.currency !== 'PLN';
  if (foreign && taxed.length > 0 && taxed.every((e) => e.vatPln !== undefined)) totals.vatPln = addDecimals(taxed.map((e) => e.vatPln!));
  return totals;
}

/**
 * The exact sum of decimal strings, with as many fraction digits as the longest operand (BigInt, no floats).
 * With no operands the sum is zero written with `zeroLike`'s fraction digits ('0.00' beside '100.00').
 */
function addDecimals(values: string[], zeroLike = '0'): string {
  const scale = Math.max(fractionDigits(zeroLike), ...values.map(fractionDigits));
  let total = 0n;
  for (const value of values) {
    const negative = value.startsWith('-');
    const [whole, fraction = ''] = (negative ? value.slice(1) : value).split('.');
    const units = BigInt(whole + fraction.padEnd(scale, '0'));
    total += negative ? -units : units;
  }
  const negative = total < 0n;
  const digits = (negative ? -total : total).toString().padStart(scale + 1, '0');
  const whole = digits.slice(0, digits.length - scale);
  return `${negative ? '-' : ''}${whole}${scale > 0 ? `.${digits.slice(digits.length - scale)}` : ''}`;
}

function fractionDigits(value: string): number {
  const dot = value.indexOf('.');
  return dot < 0 ? 0 : value.length - dot - 1;
}

/** One spreadsheet row per invoice: every column always present, '' when the invoice does not state it. */
export interface InvoiceSpreadsheetRow {
  invoiceNumber: string;
  invoiceType: string;
  issueDate: string;
  saleDate: string;
  sellerNip: string;
  sellerName: string;
  /** The buyer's NIP, else its EU VAT number, else its other tax id. */
  buyerId: string;
  buyerName: string;
  currency: string;
  net: string;
  vat: string;
  vatPln: string;
  gross: string;
  /** The first due date. */
  dueDate: string;
  paymentMethod: string;
  paid: string;
  /** The first bank account. */
  bankAccount: string;
  correctedInvoiceNumber: string;
  correctedKsefNumber: string;
}

/** One spreadsheet row per invoice line, with the invoice's number, seller, issue date and currency. */
export interface InvoiceLineSpreadsheetRow {
  invoiceNumber: string;
  issueDate: string;
  sellerNip: string;
  currency: string;
  lineNumber: string;
  name: string;
  quantity: string;
  unit: string;
  netUnitPrice: string;
  grossUnitPrice: string;
  netAmount: string;
  grossAmount: string;
  vatRate: string;
  gtin: string;
  pkwiu: string;
  cn: string;
}

export function invoiceRow(invoice: FriendlyInvoice): InvoiceSpreadsheetRow {
  const { buyer, totals, payment } = invoice;
  const corrected = invoice.correction?.correctedInvoices[0];
  return {
    invoiceNumber: invoice.invoiceNumber ?? '',
    invoiceType: invoice.invoiceType ?? '',
    issueDate: invoice.issueDate ?? '',
    saleDate: invoice.saleDate ?? '',
    sellerNip: invoice.seller.nip ?? '',
    sellerName: invoice.seller.name ?? '',
    buyerId: buyer.nip ?? buyer.vatUe ?? buyer.otherId ?? '',
    buyerName: buyer.name ?? '',
    currency: invoice.currency ?? '',
    net: totals.net ?? '',
    vat: totals.vat ?? '',
    vatPln: totals.vatPln ?? '',
    gross: totals.gross ?? '',
    dueDate: payment?.dueDates[0] ?? '',
    paymentMethod: payment?.method ?? '',
    paid: payment?.paid ? 'yes' : '',
    bankAccount: payment?.bankAccounts[0]?.number ?? '',
    correctedInvoiceNumber: corrected?.invoiceNumber ?? '',
    correctedKsefNumber: corrected?.ksefNumber ?? '',
  };
}

export function invoiceLineRows(invoice: FriendlyInvoice): InvoiceLineSpreadsheetRow[] {
  return invoice.lines.map((line) => ({
    invoiceNumber: invoice.invoiceNumber ?? '',
    issueDate: invoice.issueDate ?? '',
    sellerNip: invoice.seller.nip ?? '',
    currency: invoice.currency ?? '',
    lineNumber: line.number === undefined ? '' : String(line.number),
    name: line.name ?? '',
    quantity: line.quantity ?? '',
    unit: line.unit ?? '',
    netUnitPrice: line.netUnitPrice ?? '',
    grossUnitPrice: line.grossUnitPrice ?? '',
    netAmount: line.netAmount ?? '',
    grossAmount: line.grossAmount ?? '',
    vatRate: line.vatRate ?? '',
    gtin: line.gtin ?? '',
    pkwiu: line.pkwiu ?? '',
    cn: line.cn ?? '',
  }));
}
