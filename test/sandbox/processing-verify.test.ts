import { findSpecFolder } from '../../shared/protocol/spec/specFolder';
import {
  SCHEMA_VALIDATION_SKIPPED_DETAIL,
  schemaValidationAvailable,
  verifyInvoice,
  type VerifyContext,
  type VerifyResult,
} from '../../sandbox/sessions/verifyInvoice';
import { buildDemoInvoice } from '../../sandbox/samples/demoInvoice';

const specDir = findSpecFolder();
if (!specDir) throw new Error('These tests validate against the official XSDs: set KSEF_SPEC_DIR to the folder containing ksef-docs/.');

const CONTEXT_NIP = '1234563218';
// 10:30 in Warsaw on 2026-03-10 (UTC+1).
const acceptedAt = new Date('2026-03-10T09:30:00Z');
const context: VerifyContext = { schema: 'FA(3)', contextNip: CONTEXT_NIP, acceptedAt, specDir };
const invoice = buildDemoInvoice({ invoiceNumber: 'FV/2026/03/15', issueDate: '2026-03-10', lines: 4 });

function verify(xml: string | Buffer, overrides: Partial<VerifyContext> = {}): Promise<VerifyResult> {
  return verifyInvoice(typeof xml === 'string' ? Buffer.from(xml, 'utf8') : xml, { ...context, ...overrides });
}

function failure(result: VerifyResult): { code: number; description: string; details: string } {
  if (result.ok) throw new Error('expected the invoice to be rejected');
  return { code: result.status.code, description: result.status.description, details: result.status.details.join('\n') };
}

describe('verifyInvoice', () => {
  it('accepts our FA(3) demo invoice after XSD validation and returns its facts', async () => {
    const result = await verify(invoice);
    expect(result).toEqual({
      ok: true,
      schemaValidated: true,
      facts: expect.objectContaining({
        sellerNip: CONTEXT_NIP,
        invoiceNumber: 'FV/2026/03/15',
        issueDate: '2026-03-10',
        invoiceType: 'VAT',
      }),
    });
  });

  it('accepts our FA(2) demo invoice in an FA(2) session', async () => {
    const result = await verify(buildDemoInvoice({ schema: 'FA(2)', issueDate: '2026-03-01' }), { schema: 'FA(2)' });
    expect(result.ok).toBe(true);
  });

  it.each<[string, () => string | Buffer, RegExp]>([
    ['a byte order mark', () => Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(invoice)]), /byte order mark/],
    ['a non-UTF-8 encoding declaration', () => invoice.replace('encoding="UTF-8"', 'encoding="ISO-8859-2"'), /encoding="ISO-8859-2"/],
    ['a processing instruction', () => invoice.replace('<Fa>', '<?ksef-hint fast?><Fa>'), /processing instruction <\?ksef-hint/],
    ['a discouraged character', () => invoice.replace('Kraków</AdresL2>', 'Kraków\u0086</AdresL2>'), /U\+0086 at line \d+, column \d+/],
    ['an oversized file', () => invoice.replace('</Faktura>', `<!--${'-x'.repeat(500_001)}--></Faktura>`), /at most 1000000 bytes/],
    ['malformed XML', () => invoice.replace('</Podmiot1>', ''), /not well-formed XML/],
  ])('rejects %s with 430 and a specific detail', async (_name, make, detail) => {
    const result = failure(await verify(make()));
    expect(result.code).toBe(430);
    expect(result.description).toBe('Błąd weryfikacji pliku faktury');
    expect(result.details).toMatch(detail);
  });

  it('rejects an invoice of another schema than the session with 430, naming both', async () => {
    const result = failure(await verify(buildDemoInvoice({ schema: 'FA(2)', issueDate: '2026-03-01' })));
    expect(result.code).toBe(430);
    expect(result.details).toContain('namespace "http://crd.gov.pl/wzor/2023/06/29/12648/"');
    expect(result.details).toContain('opened for FA(3)');
    expect(result.details).toContain('kodSystemowy="FA (2)"');
  });

  it('rejects a KodFormularza that does not match the session form code with 430', async () => {
    const result = failure(await verify(invoice.replace('wersjaSchemy="1-0E"', 'wersjaSchemy="1-1E"')));
    expect(result.code).toBe(430);
    expect(result.details).toMatch(
      /KodFormularza declares kodSystemowy="FA \(3\)" wersjaSchemy="1-1E" FA, but the session's form code is kodSystemowy="FA \(3\)" wersjaSchemy="1-0E" FA/,
    );
  });

  it('rejects an XSD-invalid invoice with 430 and the schema errors with line numbers', async () => {
    const result = failure(await verify(invoice.replace('<P_1M>', '<Uwagi>pilne</Uwagi><P_1M>')));
    expect(result.code).toBe(430);
    expect(result.details).toContain('does not conform to Schemat_FA(3)_v1-0E.xsd');
    expect(result.details).toMatch(/Line \d+: Element 'Uwagi': This element is not expected\. Expected is one of \( P_1M, P_2 \)\./);
  });

  it('rejects wrong totals format through the XSD (amounts have at most 2 decimals)', async () => {
    const result = failure(await verify(invoice.replace(/<P_15>([\d.]+)<\/P_15>/, '<P_15>$1001</P_15>')));
    expect(result.code).toBe(430);
    expect(result.details).toMatch(/Element 'P_15'/);
  });

  it('rejects an issue date later than the acceptance day (Polish time) with 450', async () => {
    const result = failure(await verify(buildDemoInvoice({ issueDate: '2026-03-11' })));
    expect(result.code).toBe(450);
    expect(result.description).toBe('Błąd weryfikacji semantyki dokumentu faktury');
    expect(result.details).toContain('(P_1) 2026-03-11 is later than the day KSeF accepted the invoice (2026-03-10, Polish time)');
  });

  it('judges the issue date by the Polish calendar day, not the UTC one', async () => {
    // 23:30 UTC on 2026-03-10 is already 2026-03-11 in Warsaw.
    const lateEvening = new Date('2026-03-10T23:30:00Z');
    expect((await verify(buildDemoInvoice({ issueDate: '2026-03-11' }), { acceptedAt: lateEvening })).ok).toBe(true);
    expect(failure(await verify(buildDemoInvoice({ issueDate: '2026-03-12' }), { acceptedAt: lateEvening })).code).toBe(450);
  });

  it('rejects an invoice of another seller than the context with 410', async () => {
    const result = failure(await verify(buildDemoInvoice({ sellerNip: '9999999999', issueDate: '2026-03-01' })));
    expect(result.code).toBe(410);
    expect(result.description).toBe('Nieprawidłowy zakres uprawnień');
    expect(result.details).toContain('seller NIP in Podmiot1 (9999999999) is not the NIP of the authenticated context (1234563218)');
  });

  it('compares the seller with the NIP part of InternalId and NipVatUe contexts', async () => {
    const xml = buildDemoInvoice({ issueDate: '2026-03-01' });
    expect((await verify(xml, { contextNip: `${CONTEXT_NIP}-00001` })).ok).toBe(true);
    expect((await verify(xml, { contextNip: `${CONTEXT_NIP}-ATU12345678` })).ok).toBe(true);
    expect(failure(await verify(xml, { contextNip: '9999999999-00001' })).code).toBe(410);
  });

  it('returns the facts it could read along with a rejection', async () => {
    const result = await verify(buildDemoInvoice({ invoiceNumber: 'FV/X/1', issueDate: '2026-03-11' }));
    expect(result.ok).toBe(false);
    expect(result.facts).toMatchObject({ invoiceNumber: 'FV/X/1', sellerNip: CONTEXT_NIP });
  });

  describe('without a spec folder', () => {
    it('reports that schema validation is unavailable', () => {
      expect(schemaValidationAvailable(null)).toBe(false);
      expect(schemaValidationAvailable(specDir)).toBe(true);
    });

    it('still applies the file rules and says the XSD check was skipped', async () => {
      const result = await verify(invoice.replace('<Fa>', '<?pi?><Fa>'), { specDir: null });
      expect(result.schemaValidated).toBe(false);
      const { code, details } = failure(result);
      expect(code).toBe(430);
      expect(details).toContain(SCHEMA_VALIDATION_SKIPPED_DETAIL);
    });

    it('accepts an XSD-invalid but well-formed invoice, flagged as not schema-validated', async () => {
      const result = await verify(invoice.replace('<P_1M>', '<Uwagi>pilne</Uwagi><P_1M>'), { specDir: null });
      expect(result).toMatchObject({ ok: true, schemaValidated: false });
    });
  });
});
