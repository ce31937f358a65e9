import { sha256Base64 } from '../../shared/protocol/crypto/hashes';
import { formatKsefNumber } from '../../shared/protocol/model/ksefNumber';
import { findSpecFolder } from '../../shared/protocol/spec/specFolder';
import { readInvoiceFacts } from '../../shared/protocol/xml/invoiceFacts';
import { createXsdValidator } from '../../shared/protocol/xml/xsd';
import {
  buildInvoiceUpo,
  buildSessionUpo,
  sessionUpoPageCount,
  warsawDateTime,
  type UpoDocument,
  type UpoSession,
} from '../../sandbox/sessions/upo';
import { buildDemoInvoice } from '../../sandbox/samples/demoInvoice';

const specDir = findSpecFolder();
if (!specDir) throw new Error('These tests validate against the official UPO XSD: set KSEF_SPEC_DIR to the folder containing ksef-docs/.');
const xsd = createXsdValidator(specDir);

const session: UpoSession = {
  sessionReferenceNumber: '20260310-SO-2C3E6C8000-B675CF5D68-07',
  contextIdentifier: { type: 'Nip', value: '1234563218' },
  authentication: { ksefTokenReferenceNumber: '20260301-EC-1ECDD12000-5EE71AE5E3-B7' },
  schema: 'FA(3)',
};

function documentFor(invoiceNumber: string, index: number): UpoDocument {
  const xml = buildDemoInvoice({ invoiceNumber, issueDate: '2026-03-10' });
  const invoicingDate = new Date(Date.UTC(2026, 2, 10, 9, 30, 0, index));
  return {
    sellerNip: '1234563218',
    ksefNumber: formatKsefNumber('1234563218', invoicingDate, index.toString(16).padStart(12, '0')),
    invoiceNumber,
    issueDate: '2026-03-10',
    invoicingDate,
    acquisitionDate: new Date(invoicingDate.getTime() + 250),
    invoiceHash: sha256Base64(xml),
    invoicingMode: index % 2 === 0 ? 'Online' : 'Offline',
  };
}

describe('buildInvoiceUpo', () => {
  it('produces a UPO v4-3 that validates against upo-v4-3.xsd', async () => {
    const upo = buildInvoiceUpo({ ...session, document: documentFor('FV/2026/03/1', 0) });
    expect(await xsd.validateUpo(upo)).toEqual([]);
    expect(upo).toContain('<Potwierdzenie xmlns="http://upo.schematy.mf.gov.pl/KSeF/v4-3">');
    expect(upo).toContain('<NazwaPodmiotuPrzyjmujacego>Ministerstwo Finansów</NazwaPodmiotuPrzyjmujacego>');
    expect(upo).toContain('<NumerReferencyjnyTokenaKSeF>20260301-EC-1ECDD12000-5EE71AE5E3-B7</NumerReferencyjnyTokenaKSeF>');
    expect(upo).toContain('<NazwaStrukturyLogicznej>Schemat_FA(3)_v1-0E.xsd</NazwaStrukturyLogicznej>');
    expect(upo).toContain('<KodFormularza>FA (3)</KodFormularza>');
    expect(upo).toContain('<DataPrzeslaniaDokumentu>2026-03-10T10:30:00.000+01:00</DataPrzeslaniaDokumentu>');
    expect(upo).toContain('<TrybWysylki>Online</TrybWysylki>');
    expect(upo).not.toContain('OpisPotwierdzenia');
  });

  it('carries the document facts a client checks: KSeF number, invoice number and hash', () => {
    const document = documentFor('FV/2026/03/2', 3);
    const upo = buildInvoiceUpo({ ...session, document });
    expect(upo).toContain(`<NumerKSeFDokumentu>${document.ksefNumber}</NumerKSeFDokumentu>`);
    expect(upo).toContain(`<SkrotDokumentu>${document.invoiceHash}</SkrotDokumentu>`);
    expect(upo).toContain('<TrybWysylki>Offline</TrybWysylki>');
  });

  it.each<[string, UpoSession['contextIdentifier'], string]>([
    ['InternalId', { type: 'InternalId', value: '1234563218-00001' }, '<IdWewnetrzny>1234563218-00001</IdWewnetrzny>'],
    ['NipVatUe', { type: 'NipVatUe', value: '1234563218-ATU12345678' }, '<IdZlozonyVatUE>1234563218-ATU12345678</IdZlozonyVatUE>'],
    ['PeppolId', { type: 'PeppolId', value: 'PPL123456' }, '<IdDostawcyUslugPeppol>PPL123456</IdDostawcyUslugPeppol>'],
  ])('writes a %s context and a XAdES authentication hash, valid against the XSD', async (_type, contextIdentifier, element) => {
    const upo = buildInvoiceUpo({
      ...session,
      contextIdentifier,
      authentication: { authenticationDocumentHash: sha256Base64('signed AuthTokenRequest') },
      document: documentFor('FV/2026/03/3', 1),
    });
    expect(upo).toContain(element);
    expect(upo).toContain('<SkrotDokumentuUwierzytelniajacego>');
    expect(await xsd.validateUpo(upo)).toEqual([]);
  });

  it('escapes invoice numbers with XML special characters and keeps the UPO valid', async () => {
    const upo = buildInvoiceUpo({ ...session, document: documentFor('FV/<A&B>/"1"', 2) });
    expect(upo).toContain('<NumerFaktury>FV/&lt;A&amp;B&gt;/&quot;1&quot;</NumerFaktury>');
    expect(await xsd.validateUpo(upo)).toEqual([]);
  });

  it('names the schema of PEF and FA_RR sessions', () => {
    expect(buildInvoiceUpo({ ...session, schema: 'PEF(3)', document: documentFor('P/1', 0) })).toContain(
      '<NazwaStrukturyLogicznej>Schemat_PEF(3)_v2-1.xsd</NazwaStrukturyLogicznej>',
    );
    expect(buildInvoiceUpo({ ...session, schema: 'FA_RR(1)', document: documentFor('R/1', 0) })).toContain(
      '<KodFormularza>FA_RR (1)</KodFormularza>',
    );
  });
});

describe('buildSessionUpo', () => {
  const documents = Array.from({ length: 5 }, (_, i) => documentFor(`FV/2026/03/${100 + i}`, i));

  it('lists every document with OpisPotwierdzenia and validates against the XSD', async () => {
    const upo = buildSessionUpo({ ...session, documents });
    expect(await xsd.validateUpo(upo)).toEqual([]);
    expect(upo.match(/<Dokument>/g)).toHaveLength(5);
    expect(upo).toMatch(
      /<Strona>1<\/Strona>\s*<LiczbaStron>1<\/LiczbaStron>\s*<ZakresDokumentowOd>1<\/ZakresDokumentowOd>\s*<ZakresDokumentowDo>5<\/ZakresDokumentowDo>\s*<CalkowitaLiczbaDokumentow>5<\/CalkowitaLiczbaDokumentow>/,
    );
  });

  it('splits the documents into pages', async () => {
    expect(sessionUpoPageCount(5, 2)).toBe(3);
    expect(sessionUpoPageCount(10_001)).toBe(2);
    const last = buildSessionUpo({ ...session, documents, pageSize: 2, page: 3 });
    expect(await xsd.validateUpo(last)).toEqual([]);
    expect(last.match(/<Dokument>/g)).toHaveLength(1);
    expect(last).toContain('<Strona>3</Strona>');
    expect(last).toContain('<ZakresDokumentowOd>5</ZakresDokumentowOd>');
    expect(last).toContain(`<NumerFaktury>FV/2026/03/104</NumerFaktury>`);
  });

  it('refuses pages that do not exist and sessions without documents', () => {
    expect(() => buildSessionUpo({ ...session, documents, page: 2 })).toThrow(/page 2 does not exist: 5 documents make 1 page/);
    expect(() => buildSessionUpo({ ...session, documents: [] })).toThrow(/at least one/);
    expect(() => buildSessionUpo({ ...session, documents, pageSize: 10_001 })).toThrow(/page size/);
  });

  it('fails XSD validation when a field breaks the schema, so the check above is meaningful', async () => {
    const upo = buildSessionUpo({ ...session, documents }).replace(
      'Ministerstwo Finansów<',
      'Ministerstwo Finansów - środowisko testowe (TE)<',
    );
    const errors = await xsd.validateUpo(upo);
    expect(errors.join('\n')).toMatch(/NazwaPodmiotuPrzyjmujacego/);
  });
});

describe('warsawDateTime', () => {
  it('writes Polish local time with the offset of the season', () => {
    expect(warsawDateTime(new Date('2026-01-15T12:00:00.123Z'))).toBe('2026-01-15T13:00:00.123+01:00');
    expect(warsawDateTime(new Date('2026-07-15T22:30:00.000Z'))).toBe('2026-07-16T00:30:00.000+02:00');
  });
});

describe('UPO and invoice agree', () => {
  it('uses the invoice facts the sandbox reads', () => {
    const xml = buildDemoInvoice({ invoiceNumber: 'FV/2026/03/9', issueDate: '2026-03-09' });
    const facts = readInvoiceFacts(xml);
    const upo = buildInvoiceUpo({
      ...session,
      document: {
        ...documentFor('ignored', 0),
        invoiceNumber: facts.invoiceNumber!,
        issueDate: facts.issueDate!,
        invoiceHash: sha256Base64(xml),
      },
    });
    expect(upo).toContain('<NumerFaktury>FV/2026/03/9</NumerFaktury>');
    expect(upo).toContain('<DataWystawieniaFaktury>2026-03-09</DataWystawieniaFaktury>');
  });
});
