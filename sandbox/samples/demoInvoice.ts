/**
 * Our own sample invoice: a Kraków software house invoicing a client for IT services, in PLN at 23% VAT.
 * Valid against the official FA(3) (or FA(2)) XSD; the seller defaults to the sandbox's demo context NIP.
 */
import { INVOICE_SCHEMAS } from '../../shared/protocol/model/formCodes';
import { escapeXml } from '../../shared/protocol/xml/xmlScanner';
import { warsawDay } from '../dates';

export const DEMO_SELLER_NIP = '1234563218';
export const DEMO_BUYER_NIP = '9999999999';

export interface DemoInvoiceOptions {
  /** Podmiot1 NIP (default the sandbox demo context 1234563218). */
  sellerNip?: string;
  /** Podmiot2 NIP (default 9999999999, checksum-valid and obviously fictitious). */
  buyerNip?: string;
  /** P_2 (default `FV/<year>/<month>/<random>`). */
  invoiceNumber?: string;
  /** P_1, `YYYY-MM-DD` (default today in Poland). */
  issueDate?: string;
  /** Number of invoice lines, 1..100 (default 3). */
  lines?: number;
  schema?: 'FA(3)' | 'FA(2)';
}

interface Service {
  name: string;
  unit: string;
  /** Net unit price in grosze. */
  unitPrice: number;
  quantity: number;
}

const SERVICES: Service[] = [
  { name: 'Wdrożenie modułu integracji z KSeF', unit: 'usł.', unitPrice: 850_000, quantity: 1 },
  { name: 'Programowanie – prace rozwojowe systemu ERP', unit: 'godz.', unitPrice: 22_000, quantity: 36 },
  { name: 'Abonament hostingu aplikacji (miesiąc)', unit: 'mies.', unitPrice: 49_900, quantity: 1 },
  { name: 'Szkolenie zespołu księgowego z obsługi e-faktur', unit: 'dzień', unitPrice: 320_000, quantity: 2 },
  { name: 'Wsparcie techniczne w trybie 8x5', unit: 'godz.', unitPrice: 18_050, quantity: 12 },
];

const VAT_RATE_PERCENT = 23;

/** `Adnotacje` of an ordinary invoice: no cash accounting, self-invoicing, reverse charge, exemption, new means of transport, simplified triangulation or margin scheme. */
export const ORDINARY_ANNOTATIONS = `		<Adnotacje>
			<P_16>2</P_16>
			<P_17>2</P_17>
			<P_18>2</P_18>
			<P_18A>2</P_18A>
			<Zwolnienie>
				<P_19N>1</P_19N>
			</Zwolnienie>
			<NoweSrodkiTransportu>
				<P_22N>1</P_22N>
			</NoweSrodkiTransportu>
			<P_23>2</P_23>
			<PMarzy>
				<P_PMarzyN>1</P_PMarzyN>
			</PMarzy>
		</Adnotacje>`;

export function buildDemoInvoice(opts: DemoInvoiceOptions = {}): string {
  const schema = opts.schema ?? 'FA(3)';
  const { namespace, formCode } = INVOICE_SCHEMAS[schema];
  const issueDate = opts.issueDate ?? warsawDay(new Date());
  if (!/^\d{4}-\d{2}-\d{2}$/.test(issueDate)) throw new RangeError(`issueDate must be YYYY-MM-DD, got "${issueDate}".`);
  const lineCount = opts.lines ?? 3;
  if (!Number.isInteger(lineCount) || lineCount < 1 || lineCount > 100)
    throw new RangeError(`lines must be an integer from 1 to 100, got ${lineCount}.`);
  const invoiceNumber = opts.invoiceNumber ?? `FV/${issueDate.slice(0, 4)}/${issueDate.slice(5, 7)}/${Math.floor(Math.random() * 1e9)}`;

  const lines = Array.from({ length: lineCount }, (_, i) => {
    const service = SERVICES[i % SERVICES.length];
    return { ...service, net: service.unitPrice * service.quantity };
  });
  const netTotal = lines.reduce((sum, line) => sum + line.net, 0);
  // VAT is computed once on the invoice total (art. 106e ust. 10), which keeps P_14_1 = 23% of P_13_1 exactly.
  const vatTotal = Math.round((netTotal * VAT_RATE_PERCENT) / 100);
  const grossTotal = netTotal + vatTotal;
  const dueDate = addDays(issueDate, 14);
  const t = escapeXml;

  const buyerFlags = schema === 'FA(3)' ? '\n\t\t<JST>2</JST>\n\t\t<GV>2</GV>' : '';
  const rows = lines
    .map(
      (line, i) => `
		<FaWiersz>
			<NrWierszaFa>${i + 1}</NrWierszaFa>
			<P_7>${t(line.name)}</P_7>
			<P_8A>${t(line.unit)}</P_8A>
			<P_8B>${line.quantity}</P_8B>
			<P_9A>${money(line.unitPrice)}</P_9A>
			<P_11>${money(line.net)}</P_11>
			<P_12>${VAT_RATE_PERCENT}</P_12>
		</FaWiersz>`,
    )
    .join('');

  return `<?xml version="1.0" encoding="UTF-8"?>
<Faktura xmlns="${namespace}">
	<Naglowek>
		<KodFormularza kodSystemowy="${formCode.systemCode}" wersjaSchemy="${formCode.schemaVersion}">${formCode.value}</KodFormularza>
		<WariantFormularza>${schema === 'FA(3)' ? 3 : 2}</WariantFormularza>
		<DataWytworzeniaFa>${issueDate}T08:00:00Z</DataWytworzeniaFa>
		<SystemInfo>ksef-flow sandbox</SystemInfo>
	</Naglowek>
	<Podmiot1>
		<DaneIdentyfikacyjne>
			<NIP>${t(opts.sellerNip ?? DEMO_SELLER_NIP)}</NIP>
			<Nazwa>Wiślana Informatyka sp. z o.o.</Nazwa>
		</DaneIdentyfikacyjne>
		<Adres>
			<KodKraju>PL</KodKraju>
			<AdresL1>ul. Rybaki 14/3</AdresL1>
			<AdresL2>31-052 Kraków</AdresL2>
		</Adres>
		<DaneKontaktowe>
			<Email>faktury@wislana-informatyka.example</Email>
		</DaneKontaktowe>
	</Podmiot1>
	<Podmiot2>
		<DaneIdentyfikacyjne>
			<NIP>${t(opts.buyerNip ?? DEMO_BUYER_NIP)}</NIP>
			<Nazwa>Biuro Rachunkowe Pod Sową s.c.</Nazwa>
		</DaneIdentyfikacyjne>
		<Adres>
			<KodKraju>PL</KodKraju>
			<AdresL1>ul. Mickiewicza 8</AdresL1>
			<AdresL2>60-833 Poznań</AdresL2>
		</Adres>${buyerFlags}
	</Podmiot2>
	<Fa>
		<KodWaluty>PLN</KodWaluty>
		<P_1>${issueDate}</P_1>
		<P_1M>Kraków</P_1M>
		<P_2>${t(invoiceNumber)}</P_2>
		<P_6>${issueDate}</P_6>
		<P_13_1>${money(netTotal)}</P_13_1>
		<P_14_1>${money(vatTotal)}</P_14_1>
		<P_15>${money(grossTotal)}</P_15>
${ORDINARY_ANNOTATIONS}
		<RodzajFaktury>VAT</RodzajFaktury>${rows}
		<Platnosc>
			<TerminPlatnosci>
				<Termin>${dueDate}</Termin>
			</TerminPlatnosci>
			<FormaPlatnosci>6</FormaPlatnosci>
			<RachunekBankowy>
				<NrRB>61109010140000071219812874</NrRB>
				<NazwaBanku>Bank Przykładowy S.A.</NazwaBanku>
			</RachunekBankowy>
		</Platnosc>
	</Fa>
	<Stopka>
		<Informacje>
			<StopkaFaktury>Wiślana Informatyka sp. z o.o., Sąd Rejonowy dla Krakowa-Śródmieścia, kapitał zakładowy 50 000 zł</StopkaFaktury>
		</Informacje>
	</Stopka>
</Faktura>
`;
}

/** Grosze → `1234.56` (negative amounts keep their sign). */
export function money(grosze: number): string {
  return (grosze / 100).toFixed(2);
}

export function addDays(isoDate: string, days: number): string {
  const date = new Date(`${isoDate}T00:00:00Z`);
  date.setUTCDate(date.getUTCDate() + days);
  return date.toISOString().slice(0, 10);
}
