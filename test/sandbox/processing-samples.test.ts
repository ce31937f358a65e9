import { findSpecFolder } from '../../shared/protocol/spec/specFolder';
import { readInvoiceFacts } from '../../shared/protocol/xml/invoiceFacts';
import { checkInvoiceXml } from '../../shared/protocol/xml/xmlRules';
import { createXsdValidator } from '../../shared/protocol/xml/xsd';
import { buildDemoInvoice, DEMO_BUYER_NIP, DEMO_SELLER_NIP } from '../../sandbox/samples/demoInvoice';

const specDir = findSpecFolder();
if (!specDir) throw new Error('These tests validate against the official XSDs: set KSEF_SPEC_DIR to the folder containing ksef-docs/.');
const xsd = createXsdValidator(specDir);

function amounts(xml: string, element: string): number[] {
  return [...xml.matchAll(new RegExp(`<${element}>([^<]*)</${element}>`, 'g'))].map((m) => Number(m[1]));
}

describe('buildDemoInvoice', () => {
  it.each([
    ['FA(3)', 1],
    ['FA(3)', 3],
    ['FA(3)', 25],
    ['FA(2)', 1],
    ['FA(2)', 7],
  ] as const)('builds a %s invoice with %i line(s) that passes the official XSD and the KSeF file rules', async (schema, lines) => {
    const xml = buildDemoInvoice({ schema, lines, issueDate: '2026-02-27' });
    expect(checkInvoiceXml(Buffer.from(xml))).toEqual([]);
    expect(await xsd.validateInvoice(xml, schema)).toEqual([]);
    expect(xml.match(/<FaWiersz>/g)).toHaveLength(lines);
  });

  it('has consistent PLN totals at 23% VAT', () => {
    const xml = buildDemoInvoice({ lines: 6 });
    const [net] = amounts(xml, 'P_13_1');
    const [vat] = amounts(xml, 'P_14_1');
    const [gross] = amounts(xml, 'P_15');
    const lineNet = amounts(xml, 'P_11').reduce((a, b) => a + b, 0);
    expect(xml).toContain('<KodWaluty>PLN</KodWaluty>');
    expect(net).toBeCloseTo(lineNet, 2);
    expect(vat).toBeCloseTo(Math.round(net * 23) / 100, 2);
    expect(gross).toBeCloseTo(net + vat, 2);
    for (const rate of amounts(xml, 'P_12')) expect(rate).toBe(23);
  });

  it('uses the demo context as seller and takes the given identity fields', () => {
    expect(readInvoiceFacts(buildDemoInvoice())).toMatchObject({ sellerNip: DEMO_SELLER_NIP, invoiceType: 'VAT' });
    const xml = buildDemoInvoice({ sellerNip: '9999999999', buyerNip: '1234563218', invoiceNumber: 'FV/7/2026', issueDate: '2026-01-31' });
    expect(readInvoiceFacts(xml)).toMatchObject({ sellerNip: '9999999999', invoiceNumber: 'FV/7/2026', issueDate: '2026-01-31' });
    expect(xml).toContain('<NIP>1234563218</NIP>');
    expect(DEMO_BUYER_NIP).not.toBe(DEMO_SELLER_NIP);
  });

  it('gives each default invoice its own number, so repeated sends are not duplicates', () => {
    const numbers = new Set(Array.from({ length: 20 }, () => readInvoiceFacts(buildDemoInvoice()).invoiceNumber));
    expect(numbers.size).toBe(20);
  });

  it('escapes user-supplied text', async () => {
    const xml = buildDemoInvoice({ invoiceNumber: 'FV/<1>&"2"' });
    expect(readInvoiceFacts(xml).invoiceNumber).toBe('FV/<1>&"2"');
    expect(await xsd.validateInvoice(xml, 'FA(3)')).toEqual([]);
  });

  it('rejects malformed options with a message naming the option', () => {
    expect(() => buildDemoInvoice({ issueDate: '27.02.2026' })).toThrow(/issueDate must be YYYY-MM-DD/);
    expect(() => buildDemoInvoice({ lines: 0 })).toThrow(/lines must be an integer from 1 to 100/);
  });
});
