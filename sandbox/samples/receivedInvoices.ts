/**
 * Invoices other sellers issue to the demo context, our own: a handful of fictitious Polish suppliers (checksum-valid
 * NIPs) selling office supplies, fuel, software, cleaning and the like, mostly in PLN, some in EUR, with a few
 * corrections. `buildReceivedInvoiceXml` writes a valid FA(3) invoice from a spec; `seedReceivedInvoices` puts
 * many of them straight into the sandbox's store, dated over a period, as if each seller had sent them in an
 * online session: the metadata query, `GET /invoices/ksef/{ksefNumber}` and exports see them like any other.
 */
import { randomBytes } from 'node:crypto';
import { sha256Base64 } from '../../shared/protocol/crypto/hashes';
import { INVOICE_SCHEMAS } from '../../shared/protocol/model/formCodes';
import { newReferenceNumber } from '../../shared/protocol/model/referenceNumber';
import { escapeXml } from '../../shared/protocol/xml/xmlScanner';
import { INVOICE_STATUS, SESSION_STATUS } from '../catalogue';
import type { SandboxContext } from '../context';
import { DAY_MS, warsawDay } from '../dates';
import type { InvoiceSummary, StoredInvoice } from '../invoices/metadata';
import { newKsefNumber } from '../sessions/processing';
import { addDays, money, ORDINARY_ANNOTATIONS } from './demoInvoice';
import { duplicateKey, type OnlineSession, type SessionInvoice } from '../sessions/records';

export interface InvoiceParty {
  nip: string;
  name: string;
  /** AdresL1, e.g. `ul. Długa 5`. */
  street: string;
  /** AdresL2, e.g. `00-238 Warszawa`. */
  city: string;
}

export type VatRate = 23 | 8 | 5;

export interface InvoiceLineSpec {
  name: string;
  unit: string;
  quantity: number;
  /** Net unit price in the smallest unit of the currency (grosze, euro cents); negative for a price reduction. */
  unitPrice: number;
  vatRate: VatRate;
}

export interface ReceivedInvoiceSpec {
  seller: InvoiceParty;
  buyer: InvoiceParty;
  invoiceNumber: string;
  /** P_1, YYYY-MM-DD */
  issueDate: string;
  currency: 'PLN' | 'EUR';
  /** PLN for one unit of `currency` (the rate P_14_xW are converted at); required for EUR. */
  exchangeRate?: number;
  lines: InvoiceLineSpec[];
  /** Makes it a correction (RodzajFaktury KOR) of this invoice. */
  correction?: { reason: string; invoiceNumber: string; issueDate: string; ksefNumber: string };
  /** Podmiot3 parties with their `Rola`. */
  thirdParties?: { nip: string; name: string; role: number }[];
  /** PodmiotUpowazniony with its `RolaPU`. */
  authorized?: InvoiceParty & { role: 1 | 2 | 3 };
  paymentDays: number;
}

/** Totals in the smallest unit of the invoice currency; `vatPln` in grosze. */
export interface InvoiceTotals {
  byRate: { rate: VatRate; net: number; vat: number; vatPln: number }[];
  net: number;
  vat: number;
  vatPln: number;
  gross: number;
}

/** Where each rate's sums go in `Fa`: P_13_1/P_14_1 the basic rate, P_13_2 the first reduced one, P_13_3 the second. */
const RATE_FIELDS: Record<VatRate, string> = { 23: '1', 8: '2', 5: '3' };

export function invoiceTotals(spec: ReceivedInvoiceSpec): InvoiceTotals {
  const rates = ([23, 8, 5] as const).filter((rate) => spec.lines.some((line) => line.vatRate === rate));
  const byRate = rates.map((rate) => {
    const net = spec.lines.filter((line) => line.vatRate === rate).reduce((total, line) => total + lineNet(line), 0);
    // VAT computed once per rate on the invoice's total (art. 106e ust. 10), as invoicing programs do.
    const vat = Math.round((net * rate) / 100);
    return { rate, net, vat, vatPln: spec.currency === 'PLN' ? vat : Math.round(vat * (spec.exchangeRate ?? 1)) };
  });
  const net = byRate.reduce((total, r) => total + r.net, 0);
  const vat = byRate.reduce((total, r) => total + r.vat, 0);
  return { byRate, net, vat, vatPln: byRate.reduce((total, r) => total + r.vatPln, 0), gross: net + vat };
}

/** The invoice as FA(3) XML (schemat_FA(3)_v1-0E.xsd). */
export function buildReceivedInvoiceXml(spec: ReceivedInvoiceSpec): string {
  const { namespace, formCode } = INVOICE_SCHEMAS['FA(3)'];
  const t = escapeXml;
  const totals = invoiceTotals(spec);
  const foreign = spec.currency !== 'PLN';
  const sums = totals.byRate
    .map((r) => {
      const n = RATE_FIELDS[r.rate];
      return `\n\t\t<P_13_${n}>${money(r.net)}</P_13_${n}>\n\t\t<P_14_${n}>${money(r.vat)}</P_14_${n}>${foreign ? `\n\t\t<P_14_${n}W>${money(r.vatPln)}</P_14_${n}W>` : ''}`;
    })
    .join('');
  const correction = spec.correction
    ? `
		<PrzyczynaKorekty>${t(spec.correction.reason)}</PrzyczynaKorekty>
		<TypKorekty>2</TypKorekty>
		<DaneFaKorygowanej>
			<DataWystFaKorygowanej>${spec.correction.issueDate}</DataWystFaKorygowanej>
			<NrFaKorygowanej>${t(spec.correction.invoiceNumber)}</NrFaKorygowanej>
			<NrKSeF>1</NrKSeF>
			<NrKSeFFaKorygowanej>${spec.correction.ksefNumber}</NrKSeFFaKorygowanej>
		</DaneFaKorygowanej>`
    : '';
  const rows = spec.lines
    .map(
      (line, i) => `
		<FaWiersz>
			<NrWierszaFa>${i + 1}</NrWierszaFa>
			<P_7>${t(line.name)}</P_7>
			<P_8A>${t(line.unit)}</P_8A>
			<P_8B>${line.quantity}</P_8B>
			<P_9A>${money(line.unitPrice)}</P_9A>
			<P_11>${money(lineNet(line))}</P_11>
			<P_12>${line.vatRate}</P_12>${foreign ? `\n\t\t\t<KursWaluty>${spec.exchangeRate!.toFixed(4)}</KursWaluty>` : ''}
		</FaWiersz>`,
    )
    .join('');
  const thirdParties = (spec.thirdParties ?? [])
    .map(
      (party) => `
	<Podmiot3>
		<DaneIdentyfikacyjne>
			<NIP>${party.nip}</NIP>
			<Nazwa>${t(party.name)}</Nazwa>
		</DaneIdentyfikacyjne>
		<Rola>${party.role}</Rola>
	</Podmiot3>`,
    )
    .join('');
  const authorized = spec.authorized
    ? `
	<PodmiotUpowazniony>
		<DaneIdentyfikacyjne>
			<NIP>${spec.authorized.nip}</NIP>
			<Nazwa>${t(spec.authorized.name)}</Nazwa>
		</DaneIdentyfikacyjne>
		${address(spec.authorized)}
		<RolaPU>${spec.authorized.role}</RolaPU>
	</PodmiotUpowazniony>`
    : '';

  return `<?xml version="1.0" encoding="UTF-8"?>
<Faktura xmlns="${namespace}">
	<Naglowek>
		<KodFormularza kodSystemowy="${formCode.systemCode}" wersjaSchemy="${formCode.schemaVersion}">${formCode.value}</KodFormularza>
		<WariantFormularza>3</WariantFormularza>
		<DataWytworzeniaFa>${spec.issueDate}T09:00:00Z</DataWytworzeniaFa>
		<SystemInfo>ksef-flow sandbox seller</SystemInfo>
	</Naglowek>
	<Podmiot1>
		<DaneIdentyfikacyjne>
			<NIP>${spec.seller.nip}</NIP>
			<Nazwa>${t(spec.seller.name)}</Nazwa>
		</DaneIdentyfikacyjne>
		${address(spec.seller)}
	</Podmiot1>
	<Podmiot2>
		<DaneIdentyfikacyjne>
			<NIP>${spec.buyer.nip}</NIP>
			<Nazwa>${t(spec.buyer.name)}</Nazwa>
		</DaneIdentyfikacyjne>
		${address(spec.buyer)}
		<JST>2</JST>
		<GV>2</GV>
	</Podmiot2>${thirdParties}${authorized}
	<Fa>
		<KodWaluty>${spec.currency}</KodWaluty>
		<P_1>${spec.issueDate}</P_1>
		<P_1M>${t(spec.seller.city.replace(/^\d{2}-\d{3} /, ''))}</P_1M>
		<P_2>${t(spec.invoiceNumber)}</P_2>
		<P_6>${spec.issueDate}</P_6>${sums}
		<P_15>${money(totals.gross)}</P_15>
${ORDINARY_ANNOTATIONS}
		<RodzajFaktury>${spec.correction ? 'KOR' : 'VAT'}</RodzajFaktury>${correction}${rows}
		<Platnosc>
			<TerminPlatnosci>
				<Termin>${addDays(spec.issueDate, spec.paymentDays)}</Termin>
			</TerminPlatnosci>
			<FormaPlatnosci>6</FormaPlatnosci>
			<RachunekBankowy>
				<NrRB>${bankAccountOf(spec.seller.nip)}</NrRB>
			</RachunekBankowy>
		</Platnosc>
	</Fa>
</Faktura>
`;
}

/** What the metadata query says of an invoice built from `spec` (the same as reading its XML would give). */
export function summaryOfSpec(spec: ReceivedInvoiceSpec): InvoiceSummary {
  const totals = invoiceTotals(spec);
  return {
    sellerName: spec.seller.name,
    buyer: { identifier: { type: 'Nip', value: spec.buyer.nip }, name: spec.buyer.name },
    netAmount: totals.net / 100,
    grossAmount: totals.gross / 100,
    vatAmount: totals.vatPln / 100,
    currency: spec.currency,
    invoiceType: spec.correction ? 'Kor' : 'Vat',
    formCode: INVOICE_SCHEMAS['FA(3)'].formCode,
    isSelfInvoicing: false,
    hasAttachment: false,
    thirdSubjects: (spec.thirdParties ?? []).map((party) => ({
      identifier: { type: 'Nip', value: party.nip },
      name: party.name,
      role: party.role,
    })),
    ...(spec.authorized && { authorizedSubject: { nip: spec.authorized.nip, name: spec.authorized.name, role: spec.authorized.role } }),
  };
}

interface Supplier extends InvoiceParty {
  /** Invoice number prefix. */
  series: string;
  catalogue: Omit<InvoiceLineSpec, 'quantity'>[];
  /** Largest quantity of a line. */
  maxQuantity: number;
  /** Share of the supplier's invoices in EUR. */
  euroShare: number;
}

const SUPPLIERS: Supplier[] = [
  {
    nip: '5251234560',
    name: 'Biuro-Serwis Kowalczyk sp. j.',
    street: 'ul. Grochowska 112',
    city: '04-357 Warszawa',
    series: 'FV',
    maxQuantity: 20,
    euroShare: 0,
    catalogue: [
      { name: 'Papier do drukarki A4 80 g (ryza)', unit: 'szt.', unitPrice: 2_199, vatRate: 23 },
      { name: 'Toner do drukarki laserowej, czarny', unit: 'szt.', unitPrice: 31_900, vatRate: 23 },
      { name: 'Segregator A4 75 mm', unit: 'szt.', unitPrice: 1_150, vatRate: 23 },
      { name: 'Długopis żelowy, niebieski (opak. 12 szt.)', unit: 'opak.', unitPrice: 3_480, vatRate: 23 },
    ],
  },
  {
    nip: '6770012344',
    name: 'Stacja Paliw Wawel-Trans sp. z o.o.',
    street: 'ul. Zakopiańska 62',
    city: '30-418 Kraków',
    series: 'FP',
    maxQuantity: 120,
    euroShare: 0,
    catalogue: [
      { name: 'Olej napędowy ON', unit: 'l', unitPrice: 512, vatRate: 23 },
      { name: 'Benzyna bezołowiowa 95', unit: 'l', unitPrice: 524, vatRate: 23 },
      { name: 'Myjnia automatyczna – program standard', unit: 'usł.', unitPrice: 2_845, vatRate: 23 },
    ],
  },
  {
    nip: '9462034127',
    name: 'Lubelska Hurtownia Spożywcza AGRO-SMAK S.A.',
    street: 'al. Kraśnicka 31',
    city: '20-718 Lublin',
    series: 'HS',
    maxQuantity: 48,
    euroShare: 0,
    catalogue: [
      { name: 'Kawa ziarnista 1 kg', unit: 'szt.', unitPrice: 6_490, vatRate: 5 },
      { name: 'Herbata czarna ekspresowa (100 torebek)', unit: 'opak.', unitPrice: 1_899, vatRate: 5 },
      { name: 'Woda mineralna 1,5 l (zgrzewka 6 szt.)', unit: 'zgrz.', unitPrice: 1_290, vatRate: 5 },
      { name: 'Ciastka kruche 500 g', unit: 'szt.', unitPrice: 1_450, vatRate: 8 },
    ],
  },
  {
    nip: '8133702159',
    name: 'Podkarpackie Centrum Oprogramowania sp. z o.o.',
    street: 'ul. Hetmańska 40',
    city: '35-045 Rzeszów',
    series: 'FS',
    maxQuantity: 12,
    euroShare: 0.1,
    catalogue: [
      { name: 'Licencja programu księgowego – abonament miesięczny', unit: 'mies.', unitPrice: 24_900, vatRate: 23 },
      { name: 'Wsparcie wdrożeniowe', unit: 'godz.', unitPrice: 18_000, vatRate: 23 },
      { name: 'Kopia zapasowa w chmurze 500 GB', unit: 'mies.', unitPrice: 7_900, vatRate: 23 },
    ],
  },
  {
    nip: '5861142201',
    name: 'Czysty Bałtyk Usługi Porządkowe s.c.',
    street: 'ul. Świętojańska 9',
    city: '81-368 Gdynia',
    series: 'UP',
    maxQuantity: 4,
    euroShare: 0,
    catalogue: [
      { name: 'Sprzątanie biura – usługa miesięczna', unit: 'mies.', unitPrice: 185_000, vatRate: 23 },
      { name: 'Mycie okien', unit: 'usł.', unitPrice: 42_000, vatRate: 23 },
    ],
  },
  {
    nip: '7792310552',
    name: 'Wielkopolskie Wydawnictwo Fachowe sp. z o.o.',
    street: 'ul. Głogowska 27',
    city: '60-702 Poznań',
    series: 'WF',
    maxQuantity: 10,
    euroShare: 0,
    catalogue: [
      { name: 'Prenumerata miesięcznika podatkowego (rok)', unit: 'szt.', unitPrice: 42_000, vatRate: 8 },
      { name: 'Książka „Podatek VAT w praktyce 2026”', unit: 'szt.', unitPrice: 13_900, vatRate: 5 },
      { name: 'Szkolenie online: e-faktury w KSeF', unit: 'usł.', unitPrice: 59_000, vatRate: 23 },
    ],
  },
  {
    nip: '8513007187',
    name: 'Baltic Freight Forwarding sp. z o.o.',
    street: 'ul. Bytomska 7',
    city: '70-603 Szczecin',
    series: 'TR',
    maxQuantity: 3,
    euroShare: 0.6,
    catalogue: [
      { name: 'Transport drogowy Szczecin – Hamburg (ładunek całopojazdowy)', unit: 'kurs', unitPrice: 98_000, vatRate: 23 },
      { name: 'Obsługa celna przesyłki', unit: 'usł.', unitPrice: 15_000, vatRate: 23 },
    ],
  },
  {
    nip: '6340129871',
    name: 'Śląskie Zakłady Elektrotechniczne ELMET S.A.',
    street: 'ul. Chorzowska 150',
    city: '40-101 Katowice',
    series: 'EL',
    maxQuantity: 30,
    euroShare: 0.15,
    catalogue: [
      { name: 'Przewód YDY 3x2,5 mm² (krążek 100 m)', unit: 'szt.', unitPrice: 42_990, vatRate: 23 },
      { name: 'Oprawa LED 40 W', unit: 'szt.', unitPrice: 8_950, vatRate: 23 },
      { name: 'Wyłącznik nadprądowy B16', unit: 'szt.', unitPrice: 1_820, vatRate: 23 },
    ],
  },
];

/** The sellers `seedReceivedInvoices` invoices from (tests authenticate as them to see the other side). */
export const RECEIVED_INVOICE_SELLERS: readonly InvoiceParty[] = SUPPLIERS.map(({ nip, name, street, city }) => ({
  nip,
  name,
  street,
  city,
}));

const DEMO_BUYER = { name: 'Demo Sp. z o.o.', street: 'ul. Przykładowa 1', city: '00-001 Warszawa' };
const CORRECTION_SHARE = 0.04;
const OFFLINE_SHARE = 0.05;
/** PLN for one euro, around which EUR invoices are converted. */
const EURO_RATE = 4.25;

export interface SeedReceivedOptions {
  /** Permanent-storage dates are spread evenly from `from` to `to` (default: the 30 days up to now). */
  from?: Date;
  to?: Date;
  /** Podmiot2 NIP (default the sandbox's demo context). */
  buyerNip?: string;
  /** Random numbers in [0, 1) (default Math.random); pass a seeded one for reproducible invoices. */
  random?: () => number;
}

/**
 * Stores `count` received invoices as accepted and permanently stored, in order of their dates, each seller's in
 * one closed session of its own. Nothing is verified or encrypted: the invoices are built valid. Returns them in
 * the metadata query's ascending order.
 */
export function seedReceivedInvoices(
  ctx: SandboxContext,
  count: number,
  options: SeedReceivedOptions & { buyerNip: string },
): StoredInvoice[] {
  if (!Number.isInteger(count) || count < 0)
    throw new RangeError(`The number of received invoices must be a non-negative integer, got ${count}.`);
  const random = options.random ?? Math.random;
  const to = (options.to ?? ctx.clock.now()).getTime();
  const from = (options.from ?? new Date(to - 30 * DAY_MS)).getTime();
  if (from > to) throw new RangeError('seedReceived: from must not be after to.');
  const buyer: InvoiceParty = { nip: options.buyerNip, ...DEMO_BUYER };
  const sessions = new Map<string, OnlineSession>();
  const seeded: StoredInvoice[] = [];
  const lastOfSeller = new Map<string, StoredInvoice>();
  const technicalParts = randomHexPool(count);
  for (let i = 0; i < count; i++) {
    const permanentStorageDate = new Date(Math.round(from + ((to - from) * (i + 1)) / count));
    const acquisitionDate = new Date(permanentStorageDate.getTime() - 50 - Math.floor(random() * 450));
    const invoicingDate = new Date(acquisitionDate.getTime() - 1000 - Math.floor(random() * 3000));
    const offline = random() < OFFLINE_SHARE;
    const issueDate = warsawDay(new Date(invoicingDate.getTime() - (offline ? DAY_MS : 0)));
    const supplier = SUPPLIERS[Math.floor(random() * SUPPLIERS.length)];
    const corrected = random() < CORRECTION_SHARE ? lastOfSeller.get(supplier.nip) : undefined;
    const invoiceNumber = uniqueInvoiceNumber(ctx, random, supplier, issueDate, corrected ? 'KOR' : 'VAT');
    const spec = randomSpec(random, supplier, buyer, issueDate, invoiceNumber, corrected);
    const session = sessions.get(supplier.nip) ?? sellerSession(ctx, supplier.nip, invoicingDate);
    sessions.set(supplier.nip, session);
    const ksefNumber = newKsefNumber(ctx.state, supplier.nip, invoicingDate, technicalParts);
    const stored = storeReceived(ctx, session, spec, { ksefNumber, invoicingDate, acquisitionDate, permanentStorageDate, offline });
    if (!corrected) lastOfSeller.set(supplier.nip, stored);
    seeded.push(stored);
  }
  for (const session of sessions.values()) session.dateUpdated = ctx.clock.now();
  // In the order the metadata query lists them: invoices seeded at one moment share their date.
  const order = (s: StoredInvoice) => s.invoice.permanentStorageDate!.getTime();
  return seeded.sort((a, b) => order(a) - order(b) || (a.invoice.ksefNumber! < b.invoice.ksefNumber! ? -1 : 1));
}

function randomSpec(
  random: () => number,
  supplier: Supplier,
  buyer: InvoiceParty,
  issueDate: string,
  invoiceNumber: string,
  corrected: StoredInvoice | undefined,
): ReceivedInvoiceSpec {
  const currency = random() < supplier.euroShare ? 'EUR' : 'PLN';
  const exchangeRate = currency === 'EUR' ? Math.round((EURO_RATE + (random() - 0.5) * 0.2) * 10_000) / 10_000 : undefined;
  const pick = () => supplier.catalogue[Math.floor(random() * supplier.catalogue.length)];
  const priceIn = (plnPrice: number) => (exchangeRate ? Math.max(1, Math.round(plnPrice / exchangeRate)) : plnPrice);
  const seller: InvoiceParty = { nip: supplier.nip, name: supplier.name, street: supplier.street, city: supplier.city };
  const common = {
    seller,
    buyer,
    invoiceNumber,
    issueDate,
    currency,
    ...(exchangeRate && { exchangeRate }),
    paymentDays: random() < 0.5 ? 14 : 30,
  } as const;
  if (corrected) {
    const item = pick();
    return {
      ...common,
      lines: [
        {
          name: `Rabat posprzedażowy: ${item.name}`,
          unit: item.unit,
          quantity: 1,
          unitPrice: -priceIn(Math.round(item.unitPrice * 0.1) || 1),
          vatRate: item.vatRate,
        },
      ],
      correction: {
        reason: 'Rabat udzielony po dostawie',
        invoiceNumber: corrected.invoice.invoiceNumber!,
        issueDate: corrected.invoice.issueDate!,
        ksefNumber: corrected.invoice.ksefNumber!,
      },
    };
  }
  const lineCount = 1 + Math.floor(random() * Math.min(4, supplier.catalogue.length));
  const lines = Array.from({ length: lineCount }, () => {
    const item = pick();
    return { ...item, unitPrice: priceIn(item.unitPrice), quantity: 1 + Math.floor(random() * supplier.maxQuantity) };
  });
  return { ...common, lines };
}

/** An invoice number the seller has not used yet for this kind (KSeF refuses duplicates by seller, kind and number). */
function uniqueInvoiceNumber(
  ctx: SandboxContext,
  random: () => number,
  supplier: Supplier,
  issueDate: string,
  kind: 'VAT' | 'KOR',
): string {
  const prefix = `${kind === 'KOR' ? 'KOR' : supplier.series}/${issueDate.slice(0, 4)}/${issueDate.slice(5, 7)}/`;
  for (;;) {
    const candidate = `${prefix}${1 + Math.floor(random() * 999_999)}`;
    if (!ctx.state.duplicateIndex.has(duplicateKey(supplier.nip, kind, candidate))) return candidate;
  }
}

/** A closed, processed online session of the seller's own context, as if the seller had sent the invoices itself. */
function sellerSession(ctx: SandboxContext, sellerNip: string, openedAt: Date): OnlineSession {
  const { formCode } = INVOICE_SCHEMAS['FA(3)'];
  return {
    referenceNumber: newReferenceNumber('SO', openedAt),
    schema: 'FA(3)',
    formCode,
    contextIdentifier: { type: 'Nip', value: sellerNip },
    authReferenceNumber: newReferenceNumber('AU', openedAt),
    upoAuthentication: { ksefTokenReferenceNumber: newReferenceNumber('EC', openedAt) },
    status: SESSION_STATUS.succeeded,
    dateCreated: openedAt,
    dateUpdated: openedAt,
    validUntil: new Date(openedAt.getTime() + DAY_MS),
    invoices: [],
    upoPages: [],
  };
}

function storeReceived(
  ctx: SandboxContext,
  session: OnlineSession,
  spec: ReceivedInvoiceSpec,
  dates: { ksefNumber: string; invoicingDate: Date; acquisitionDate: Date; permanentStorageDate: Date; offline: boolean },
): StoredInvoice {
  const xml = Buffer.from(buildReceivedInvoiceXml(spec), 'utf8');
  const kind = spec.correction ? 'KOR' : 'VAT';
  const { ksefNumber } = dates;
  const invoice: SessionInvoice = {
    ordinalNumber: session.invoices.length + 1,
    referenceNumber: newReferenceNumber('EE', dates.invoicingDate),
    invoiceHash: sha256Base64(xml),
    invoiceSize: xml.length,
    encryptedContent: Buffer.alloc(0),
    offlineMode: dates.offline,
    invoicingDate: dates.invoicingDate,
    status: INVOICE_STATUS.succeeded,
    invoiceNumber: spec.invoiceNumber,
    ksefNumber,
    acquisitionDate: dates.acquisitionDate,
    permanentStorageDate: dates.permanentStorageDate,
    invoicingMode: dates.offline ? 'Offline' : 'Online',
    xml,
    sellerNip: spec.seller.nip,
    issueDate: spec.issueDate,
  };
  session.invoices.push(invoice);
  const stored: StoredInvoice = { session, invoice, summary: summaryOfSpec(spec) };
  ctx.state.invoicesByKsefNumber.set(ksefNumber, stored);
  ctx.state.duplicateIndex.set(duplicateKey(spec.seller.nip, kind, spec.invoiceNumber), {
    ksefNumber,
    sessionReferenceNumber: session.referenceNumber,
  });
  return stored;
}

/** 12 random hex digits at a time from one buffer of `count` of them (then fresh ones, should duplicates use some up). */
function randomHexPool(count: number): () => string {
  const pool = randomBytes(6 * count).toString('hex');
  let next = 0;
  return () => (next < count ? pool.slice(12 * next, 12 * ++next) : randomBytes(6).toString('hex'));
}

function lineNet(line: InvoiceLineSpec): number {
  return line.quantity * line.unitPrice;
}

function address(party: InvoiceParty): string {
  return `<Adres>
			<KodKraju>PL</KodKraju>
			<AdresL1>${escapeXml(party.street)}</AdresL1>
			<AdresL2>${escapeXml(party.city)}</AdresL2>
		</Adres>`;
}

/** A fictitious 26-digit account number, the same for every invoice of a seller. */
function bankAccountOf(nip: string): string {
  return `${nip.slice(0, 2)}1020${nip}${nip.slice(0, 2)}${nip.slice(-8)}`.slice(0, 26).padEnd(26, '0');
}
