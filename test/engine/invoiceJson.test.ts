/**
 * The friendly JSON view of FA(3)/FA(2) invoices and its spreadsheet rows: the official sample invoices of the C#
 * and Java clients (read from the spec folder at test time, never copied) and small invoices of our own for the
 * cases the samples do not show (foreign currency, gross prices, corrections, foreign buyers, unparsable values).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { KsefInputError } from '../../shared/protocol/errors';
import { findSpecFolder } from '../../shared/protocol/spec/specFolder';
import { invoiceLineRows, invoiceRow, readInvoiceJson, type FriendlyInvoice } from '../../shared/protocol/xml/invoiceJson';

const specDir = findSpecFolder();
if (!specDir) throw new Error('These tests read the official samples: set KSEF_SPEC_DIR to the folder containing ksef-docs/.');
const csharpTemplates = path.join(specDir, 'ksef-client-csharp', 'KSeF.Client.Tests.Core', 'Templates');
const javaSamples = path.join(
  specDir,
  'ksef-client-java',
  'demo-web-app',
  'src',
  'integrationTest',
  'resources',
  'xml',
  'invoices',
  'sample',
);

const SELLER = '1234563218';
const BUYER = '9999999999';
/** Values for the templates' `#name#` placeholders. */
const PLACEHOLDERS: Record<string, string> = {
  nip: SELLER,
  nipOdbiorca: BUYER,
  nip_podmiot2: BUYER,
  selfInvocingNip: BUYER,
  nip1_podmiot3: '1111111111',
  nip2_podmiot3: '2222222222',
  idwew1_podmiot3: '1111111111-00001',
  idwew2_podmiot3: '2222222222-00002',
  invoice_number: 'T-2026-0042',
};

function loadSample(folder: string, file: string): string {
  return fs
    .readFileSync(path.join(folder, file), 'utf8')
    .replace(/#([A-Za-z0-9_]+)#/g, (whole, name: string) => PLACEHOLDERS[name] ?? whole);
}

const FA3_NAMESPACE = 'http://crd.gov.pl/wzor/2025/06/25/13775/';

/** A minimal FA(3) invoice around `fa` (the content of `Fa` after the header fields) and `parties` (after Podmiot1). */
function fa3(
  fa: string,
  parties = '<Podmiot2><DaneIdentyfikacyjne><NIP>9999999999</NIP><Nazwa>Buyer</Nazwa></DaneIdentyfikacyjne></Podmiot2>',
): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<Faktura xmlns="${FA3_NAMESPACE}">
  <Naglowek><KodFormularza kodSystemowy="FA (3)" wersjaSchemy="1-0E">FA</KodFormularza><WariantFormularza>3</WariantFormularza></Naglowek>
  <Podmiot1><DaneIdentyfikacyjne><NIP>${SELLER}</NIP><Nazwa>Seller &amp; Sons</Nazwa></DaneIdentyfikacyjne>
    <Adres><KodKraju>PL</KodKraju><AdresL1>ul. Prosta 1</AdresL1></Adres></Podmiot1>
  ${parties}
  <Fa>${fa}</Fa>
</Faktura>`;
}

describe('readInvoiceJson on the official samples', () => {
  it('reads the FA(3) template completely: parties, period, lines, VAT summary, totals and payment', () => {
    const invoice = readInvoiceJson(loadSample(csharpTemplates, 'invoice-template-fa-3.xml'));
    expect(invoice).toEqual<FriendlyInvoice>({
      formCode: 'FA (3)',
      invoiceType: 'VAT',
      invoiceNumber: 'FA/GRQMB-T-2026-0042/05/2025',
      issueDate: '2025-09-01',
      placeOfIssue: 'Warszawa',
      salePeriod: { from: '2026-01-01', to: '2026-02-28' },
      currency: 'PLN',
      seller: {
        nip: SELLER,
        name: 'Elektrownia S.A.',
        countryCode: 'PL',
        address: 'ul. Kwiatowa 1 m. 2, 00-001 Warszawa',
        email: 'elektrownia@elektrownia.pl',
        phone: '667444555',
      },
      buyer: {
        nip: '1111111111',
        name: 'F.H.U. Jan Kowalski',
        countryCode: 'PL',
        address: 'ul. Polna 1, 00-001 Warszawa',
        email: 'jan@kowalski.pl',
        phone: '555777999',
      },
      otherParties: [],
      lines: [
        {
          number: 1,
          name: 'Razem za energię czynną',
          unit: 'kWh',
          quantity: '20.00',
          netUnitPrice: '0.90',
          netAmount: '18.00',
          vatRate: '23',
        },
        {
          number: 2,
          name: 'Razem za usługi dystrybucji',
          unit: 'okres',
          quantity: '1.00',
          netUnitPrice: '25.60',
          netAmount: '25.60',
          vatRate: '23',
        },
      ],
      vatSummary: [{ rate: '23', field: 'P_13_1', net: '43.60', vat: '10.03' }],
      totals: { net: '43.60', vat: '10.03', gross: '53.63' },
      payment: {
        dueDates: ['2026-03-15'],
        methodCode: 6,
        method: 'transfer',
        bankAccounts: [{ number: '73111111111111111111111111', bankName: 'Bank Bankowości Bankowej S. A.' }],
      },
      selfInvoicing: false,
      hasAttachment: false,
    });
    // Keys in reading order, undefined ones dropped: what an n8n or Node-RED user sees first is the invoice's identity.
    expect(Object.keys(invoice).slice(0, 4)).toEqual(['formCode', 'invoiceType', 'invoiceNumber', 'issueDate']);
    expect(Object.keys(invoice.totals)).toEqual(['net', 'vat', 'gross']);
  });

  it('reads the FA(2) template: a paid invoice with twelve lines and its sale date', () => {
    const invoice = readInvoiceJson(loadSample(csharpTemplates, 'invoice-template-fa-2.xml'));
    expect(invoice.formCode).toBe('FA (2)');
    expect(invoice.seller).toEqual({
      nip: SELLER,
      name: 'Baranowski, Kucharski and Krupa',
      countryCode: 'PL',
      address: 'al. Stachowicz 630, 13-903 Ostrołęka',
      email: 'Konstancja7@example.net',
      phone: '24-106-12-95',
    });
    expect(invoice.buyer.nip).toBe('7352765225');
    expect(invoice.buyer.name).toBe('Cichy LLC');
    expect(invoice.issueDate).toBe('2025-06-16');
    expect(invoice.saleDate).toBe('2025-05-27');
    expect(invoice.salePeriod).toBeUndefined();
    expect(invoice.lines).toHaveLength(12);
    expect(invoice.lines[11]).toEqual({
      number: 12,
      name: 'Licensed Wooden Cheese',
      unit: 'szt.',
      quantity: '8',
      netUnitPrice: '30.77',
      netAmount: '246.16',
      vatRate: '23',
    });
    expect(invoice.vatSummary).toEqual([{ rate: '23', field: 'P_13_1', net: '35260.63', vat: '8109.94' }]);
    expect(invoice.totals).toEqual({ net: '35260.63', vat: '8109.94', gross: '43370.57' });
    expect(invoice.payment).toEqual({
      paid: true,
      paidDate: '2025-05-28',
      dueDates: [],
      methodCode: 4,
      method: 'cheque',
      bankAccounts: [],
    });
    expect(invoice.hasAttachment).toBe(false);
    expect(invoice.correction).toBeUndefined();
  });

  it('reads the third parties of the FA(3) template with several Podmiot3, with their roles', () => {
    const invoice = readInvoiceJson(loadSample(csharpTemplates, 'invoice-template-fa-3-with-multiple-Subject3.xml'));
    expect(invoice.buyer).toMatchObject({ nip: BUYER, name: 'Szkoła Testowa' });
    expect(invoice.otherParties).toEqual([
      {
        nip: '1111111111',
        internalId: '1111111111-00001',
        name: 'Szkoła Podstawowa w Bzdziszewie',
        countryCode: 'PL',
        address: 'ul. Akacjowa 200, 00-007 Bzdziszewo',
        email: 'sp@bzdziszewo.p',
        phone: '666888999',
        role: 8,
        roleMeaning: 'local government unit - recipient',
      },
      {
        nip: '2222222222',
        internalId: '2222222222-00002',
        name: 'Szkoła Podstawowa w Przykładowie',
        countryCode: 'PL',
        address: 'ul. Uranowa 235, 00-008 Przykładów',
        email: 'sp@sp.p',
        phone: '666888999',
        role: 8,
        roleMeaning: 'local government unit - recipient',
      },
    ]);
    expect(invoice.lines[0]).toMatchObject({
      number: 1,
      name: 'lodówka Zimnotech mk1',
      cn: '8418 21 91',
      quantity: '10',
      netAmount: '16260.10',
    });
  });

  it('says when an FA(3) invoice carries an attachment (Zalacznik), and reads the rest as usual', () => {
    const invoice = readInvoiceJson(loadSample(csharpTemplates, 'invoice-template-fa-3-with-attachment.xml'));
    expect(invoice.hasAttachment).toBe(true);
    expect(invoice.seller.nip).toBe(SELLER);
    expect(invoice.payment?.bankAccounts).toEqual([{ number: '73111111111111111111111111', bankName: 'Bank Bankowości Bankowej S. A.' }]);
  });

  it('reads self-invoicing (Adnotacje/P_17 = 1) from the Java client sample', () => {
    const invoice = readInvoiceJson(loadSample(javaSamples, 'invoice_template_v3_self_invoicing.xml'));
    expect(invoice.selfInvoicing).toBe(true);
    expect(invoice.buyer.nip).toBe(BUYER);
    expect(readInvoiceJson(loadSample(javaSamples, 'invoice-template_v3.xml')).selfInvoicing).toBe(false);
  });

  it('refuses PEF (UBL) and FA_RR invoices, naming what it got', () => {
    const pef = (): FriendlyInvoice => readInvoiceJson(loadSample(csharpTemplates, 'invoice-template-fa-3-pef.xml'));
    expect(pef).toThrow(KsefInputError);
    expect(pef).toThrow(
      'root element is <Invoice> in namespace "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2", a PEF(3) document',
    );
    const rr = (): FriendlyInvoice => readInvoiceJson(loadSample(csharpTemplates, 'invoice-template-fa-rr-1.xml'));
    expect(rr).toThrow('root element is <Faktura> in namespace "http://crd.gov.pl/wzor/2026/03/06/14189/", a FA_RR(1) document');
  });
});

describe('readInvoiceJson on invoices of our own', () => {
  it('reads a foreign-currency invoice: VAT in the currency and in PLN (P_14_xW) per rate and in total, exact decimal sums', () => {
    const invoice = readInvoiceJson(
      fa3(`<KodWaluty>EUR</KodWaluty><P_1>2026-02-01</P_1><P_2>EXP/1</P_2>
        <P_13_1>1000.10</P_13_1><P_14_1>230.02</P_14_1><P_14_1W>983.41</P_14_1W>
        <P_13_2>0.1</P_13_2><P_14_2>0.01</P_14_2><P_14_2W>0.04</P_14_2W>
        <P_13_7>99.99</P_13_7>
        <P_15>1330.22</P_15><KursWalutyZ>4.2753</KursWalutyZ>
        <RodzajFaktury>VAT</RodzajFaktury>
        <FaWiersz><NrWierszaFa>1</NrWierszaFa><P_7>Consulting</P_7><P_8A>h</P_8A><P_8B>10.5</P_8B><P_9A>95.2476</P_9A><P_11>1000.10</P_11><P_12>23</P_12></FaWiersz>
        <FaWiersz><NrWierszaFa>2</NrWierszaFa><P_7>Book</P_7><P_11>0.1</P_11><P_12>8</P_12></FaWiersz>
        <FaWiersz><NrWierszaFa>3</NrWierszaFa><P_7>Training</P_7><P_11>99.99</P_11><P_12>zw</P_12></FaWiersz>`),
    );
    expect(invoice.currency).toBe('EUR');
    expect(invoice.vatSummary).toEqual([
      { rate: '23', field: 'P_13_1', net: '1000.10', vat: '230.02', vatPln: '983.41' },
      { rate: '8', field: 'P_13_2', net: '0.1', vat: '0.01', vatPln: '0.04' },
      { rate: 'zw', field: 'P_13_7', net: '99.99' },
    ]);
    // 1000.10 + 0.1 + 99.99 in floats is 1100.1899999999998; the sums are decimal.
    expect(invoice.totals).toEqual({ net: '1100.19', vat: '230.03', vatPln: '983.45', gross: '1330.22' });
    expect(invoice.lines[0]).toEqual({
      number: 1,
      name: 'Consulting',
      unit: 'h',
      quantity: '10.5',
      netUnitPrice: '95.2476',
      netAmount: '1000.10',
      vatRate: '23',
    });
    expect(invoiceRow(invoice)).toMatchObject({ currency: 'EUR', net: '1100.19', vat: '230.03', vatPln: '983.45', gross: '1330.22' });
  });

  it('labels a rate field by what the lines use, and by its kind when the lines do not tell', () => {
    const invoice = readInvoiceJson(
      fa3(`<KodWaluty>PLN</KodWaluty><P_1>2026-02-01</P_1><P_2>R/1</P_2>
        <P_13_1>10.00</P_13_1><P_14_1>2.20</P_14_1><P_13_2>5.00</P_13_2><P_14_2>0.40</P_14_2>
        <P_13_4>4.00</P_13_4><P_14_4>0.16</P_14_4><P_13_5>1.00</P_13_5>
        <P_13_6_2>3.00</P_13_6_2><P_13_8>1.50</P_13_8><P_13_10>7.00</P_13_10><P_13_11>2.00</P_13_11><P_15>35.26</P_15>
        <RodzajFaktury>VAT</RodzajFaktury>
        <FaWiersz><NrWierszaFa>1</NrWierszaFa><P_11>10.00</P_11><P_12>22</P_12></FaWiersz>`),
    );
    expect(invoice.vatSummary.map((e) => [e.field, e.rate])).toEqual([
      ['P_13_1', '22'],
      ['P_13_2', '8 or 7'],
      ['P_13_4', 'taxi'],
      ['P_13_5', 'OSS'],
      ['P_13_6_2', '0 WDT'],
      ['P_13_8', 'np I'],
      ['P_13_10', 'oo'],
      ['P_13_11', 'margin'],
    ]);
    // P_14_5 (OSS VAT) is optional and absent here: the VAT total is unknown, so it is left out; the net is not.
    expect(invoice.totals).toEqual({ net: '33.50', gross: '35.26' });
  });

  it('reads an invoice priced gross (P_9B, P_11A) with no net values per line', () => {
    const invoice = readInvoiceJson(
      fa3(`<KodWaluty>PLN</KodWaluty><P_1>2026-03-01</P_1><P_2>PAR/7</P_2>
        <P_13_1>81.30</P_13_1><P_14_1>18.70</P_14_1><P_15>100.00</P_15>
        <RodzajFaktury>UPR</RodzajFaktury>
        <FaWiersz><NrWierszaFa>1</NrWierszaFa><P_7>Coffee beans</P_7><GTIN>5901234123457</GTIN><PKWiU>10.83.11.0</PKWiU><P_8A>kg</P_8A><P_8B>2.000</P_8B>
          <P_9B>50.00</P_9B><P_11A>100.00</P_11A><P_12>23</P_12></FaWiersz>`),
    );
    expect(invoice.lines).toEqual([
      {
        number: 1,
        name: 'Coffee beans',
        gtin: '5901234123457',
        pkwiu: '10.83.11.0',
        unit: 'kg',
        quantity: '2.000',
        grossUnitPrice: '50.00',
        grossAmount: '100.00',
        vatRate: '23',
      },
    ]);
    expect(invoiceLineRows(invoice)).toEqual([
      {
        invoiceNumber: 'PAR/7',
        issueDate: '2026-03-01',
        sellerNip: SELLER,
        currency: 'PLN',
        lineNumber: '1',
        name: 'Coffee beans',
        quantity: '2.000',
        unit: 'kg',
        netUnitPrice: '',
        grossUnitPrice: '50.00',
        netAmount: '',
        grossAmount: '100.00',
        vatRate: '23',
        gtin: '5901234123457',
        pkwiu: '10.83.11.0',
        cn: '',
      },
    ]);
  });

  it('reads a correction: negative differences summed exactly, the reason and every corrected invoice', () => {
    const invoice = readInvoiceJson(
      fa3(`<KodWaluty>PLN</KodWaluty><P_1>2026-04-02</P_1><P_2>KOR/1</P_2>
        <P_13_1>-100.00</P_13_1><P_14_1>-23.00</P_14_1><P_13_3>20.05</P_13_3><P_14_3>1.00</P_14_3><P_15>-101.95</P_15>
        <RodzajFaktury>KOR</RodzajFaktury><PrzyczynaKorekty>Zwrot towaru</PrzyczynaKorekty><TypKorekty>2</TypKorekty>
        <DaneFaKorygowanej><DataWystFaKorygowanej>2026-03-01</DataWystFaKorygowanej><NrFaKorygowanej>FV/10</NrFaKorygowanej>
          <NrKSeF>1</NrKSeF><NrKSeFFaKorygowanej>1234563218-20260301-0100000000AB-7E</NrKSeFFaKorygowanej></DaneFaKorygowanej>
        <DaneFaKorygowanej><DataWystFaKorygowanej>2026-02-01</DataWystFaKorygowanej><NrFaKorygowanej>FV/9</NrFaKorygowanej><NrKSeFN>1</NrKSeFN></DaneFaKorygowanej>`),
    );
    expect(invoice.invoiceType).toBe('KOR');
    expect(invoice.correction).toEqual({
      reason: 'Zwrot towaru',
      correctedInvoices: [
        { issueDate: '2026-03-01', invoiceNumber: 'FV/10', ksefNumber: '1234563218-20260301-0100000000AB-7E' },
        { issueDate: '2026-02-01', invoiceNumber: 'FV/9' },
      ],
    });
    expect(invoice.totals).toEqual({ net: '-79.95', vat: '-22.00', gross: '-101.95' });
    expect(invoiceRow(invoice)).toMatchObject({
      invoiceType: 'KOR',
      correctedInvoiceNumber: 'FV/10',
      correctedKsefNumber: '1234563218-20260301-0100000000AB-7E',
    });
  });

  it('reads each kind of buyer id (EU VAT, foreign id, none), the authorized party and an other payment method', () => {
    const fa = `<KodWaluty>PLN</KodWaluty><P_1>2026-01-10</P_1><P_2>X/1</P_2><P_13_6_2>10.00</P_13_6_2><P_15>10.00</P_15>
      <Platnosc><Zaplacono>1</Zaplacono><DataZaplaty>2026-01-09</DataZaplaty><PlatnoscInna>1</PlatnoscInna><OpisPlatnosci>Barter</OpisPlatnosci>
        <RachunekBankowy><NrRB>DE89370400440532013000</NrRB><SWIFT>COBADEFFXXX</SWIFT></RachunekBankowy></Platnosc>`;
    const euBuyer = readInvoiceJson(
      fa3(
        fa,
        `<Podmiot2><DaneIdentyfikacyjne><KodUE>DE</KodUE><NrVatUE>123456789</NrVatUE><Nazwa>Kunde GmbH</Nazwa></DaneIdentyfikacyjne>
          <Adres><KodKraju>DE</KodKraju><AdresL1>Hauptstr. 1, Berlin</AdresL1></Adres></Podmiot2>
        <PodmiotUpowazniony><DaneIdentyfikacyjne><NIP>5555555555</NIP><Nazwa>Komornik</Nazwa></DaneIdentyfikacyjne>
          <Adres><KodKraju>PL</KodKraju><AdresL1>ul. Sądowa 1</AdresL1></Adres>
          <DaneKontaktowe><EmailPU>k@example.pl</EmailPU></DaneKontaktowe><RolaPU>2</RolaPU></PodmiotUpowazniony>`,
      ),
    );
    expect(euBuyer.buyer).toEqual({ vatUe: 'DE123456789', name: 'Kunde GmbH', countryCode: 'DE', address: 'Hauptstr. 1, Berlin' });
    expect(euBuyer.authorizedParty).toEqual({
      nip: '5555555555',
      name: 'Komornik',
      countryCode: 'PL',
      address: 'ul. Sądowa 1',
      email: 'k@example.pl',
      role: 2,
      roleMeaning: 'court bailiff',
    });
    expect(euBuyer.payment).toEqual({
      paid: true,
      paidDate: '2026-01-09',
      dueDates: [],
      method: 'Barter',
      bankAccounts: [{ number: 'DE89370400440532013000', swift: 'COBADEFFXXX' }],
    });
    expect(invoiceRow(euBuyer)).toMatchObject({
      buyerId: 'DE123456789',
      paymentMethod: 'Barter',
      paid: 'yes',
      bankAccount: 'DE89370400440532013000',
    });

    const foreignBuyer = readInvoiceJson(
      fa3(
        fa,
        '<Podmiot2><DaneIdentyfikacyjne><KodKraju>US</KodKraju><NrID>12-3456789</NrID><Nazwa>ACME Inc.</Nazwa></DaneIdentyfikacyjne></Podmiot2>',
      ),
    );
    expect(foreignBuyer.buyer).toEqual({ otherIdCountryCode: 'US', otherId: '12-3456789', name: 'ACME Inc.' });
    const anonymousBuyer = readInvoiceJson(fa3(fa, '<Podmiot2><DaneIdentyfikacyjne><BrakID>1</BrakID></DaneIdentyfikacyjne></Podmiot2>'));
    expect(anonymousBuyer.buyer).toEqual({ noId: true });
    expect(invoiceRow(anonymousBuyer).buyerId).toBe('');
  });

  it('leaves out what is missing or unparsable, never guessing', () => {
    const invoice = readInvoiceJson(
      fa3(`<KodWaluty>PLN</KodWaluty><P_1>1 lutego 2026</P_1><P_2>B/1</P_2>
        <P_13_1>12,30</P_13_1><P_14_1>2.83</P_14_1><P_15>15.13</P_15>
        <Adnotacje><P_17>3</P_17></Adnotacje>
        <FaWiersz><NrWierszaFa>first</NrWierszaFa><P_7>  Widget  </P_7><P_8B>lots</P_8B><P_11>12.30</P_11></FaWiersz>
        <Platnosc><FormaPlatnosci>9</FormaPlatnosci><RachunekBankowy><NazwaBanku>No number</NazwaBanku></RachunekBankowy></Platnosc>`),
    );
    expect(invoice.issueDate).toBeUndefined();
    expect(invoice.selfInvoicing).toBeUndefined();
    // P_13_1 written with a comma is not a decimal: no summary entry, so no net or VAT total either.
    expect(invoice.vatSummary).toEqual([]);
    expect(invoice.totals).toEqual({ gross: '15.13' });
    expect(invoice.lines).toEqual([{ name: 'Widget', netAmount: '12.30' }]);
    expect(invoice.payment).toEqual({ dueDates: [], methodCode: 9, bankAccounts: [] });
    expect(invoice.correction).toBeUndefined();
    expect(invoiceRow(invoice)).toEqual({
      invoiceNumber: 'B/1',
      invoiceType: '',
      issueDate: '',
      saleDate: '',
      sellerNip: SELLER,
      sellerName: 'Seller & Sons',
      buyerId: BUYER,
      buyerName: 'Buyer',
      currency: 'PLN',
      net: '',
      vat: '',
      vatPln: '',
      gross: '15.13',
      dueDate: '',
      paymentMethod: '',
      paid: '',
      bankAccount: '',
      correctedInvoiceNumber: '',
      correctedKsefNumber: '',
    });
  });

  it('reads a Buffer and namespace prefixes, entities and CDATA', () => {
    const xml = `<fa:Faktura xmlns:fa="${FA3_NAMESPACE}"><fa:Podmiot1><fa:DaneIdentyfikacyjne><fa:NIP>${SELLER}</fa:NIP>
      <fa:Nazwa><![CDATA[A & B <sp. z o.o.>]]></fa:Nazwa></fa:DaneIdentyfikacyjne></fa:Podmiot1>
      <fa:Fa><fa:P_2>N&#243;w/1</fa:P_2></fa:Fa></fa:Faktura>`;
    const invoice = readInvoiceJson(Buffer.from(xml, 'utf8'));
    expect(invoice.seller).toEqual({ nip: SELLER, name: 'A & B <sp. z o.o.>' });
    expect(invoice.invoiceNumber).toBe('Nów/1');
  });

  it('refuses what is not an FA(3)/FA(2) invoice with an input error naming what it got', () => {
    const refusal = (xml: string): KsefInputError => {
      try {
        readInvoiceJson(xml);
      } catch (error) {
        expect(error).toBeInstanceOf(KsefInputError);
        expect((error as KsefInputError).field).toBe('xml');
        return error as KsefInputError;
      }
      throw new Error('expected a KsefInputError');
    };
    expect(refusal('{"invoice": 1}').message).toContain('The document is not XML');
    expect(refusal('%PDF-1.7 <<>>').message).toContain('The document is not XML');
    expect(refusal('<Faktura><Fa/></Faktura>').message).toContain('root element is <Faktura> in no namespace');
    expect(refusal(fa3('<P_2>A</P_2>').slice(0, -20)).message).toContain('it ends before </Faktura>');
    expect(refusal(`<Faktura xmlns="${FA3_NAMESPACE}"><Fa></Podmiot1></Faktura>`).message).toContain(
      'the end tag </Podmiot1> does not close <Fa>',
    );
  });

  it('reads a typical invoice in well under a millisecond', () => {
    const xml = loadSample(csharpTemplates, 'invoice-template-fa-2.xml');
    for (let i = 0; i < 500; i++) readInvoiceJson(xml);
    // CPU time, best of several batches: what the reading costs, not what other processes on a shared machine took.
    let bestMsEach = Infinity;
    for (let batch = 0; batch < 5; batch++) {
      const started = process.cpuUsage();
      for (let i = 0; i < 500; i++) readInvoiceJson(xml);
      const { user, system } = process.cpuUsage(started);
      bestMsEach = Math.min(bestMsEach, (user + system) / 1000 / 500);
    }
    // About 0.1 ms here (5 kB, 12 lines); a reader that builds a DOM or joins paths per element takes several times that.
    expect(bestMsEach).toBeLessThan(0.5);
  });
});
