/**
 * The official sample invoices of the C# client (read from the spec folder at test time, never copied) through
 * our fact reader, KSeF file rules and XSD validator.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { InvoiceSchema } from '../../shared/protocol/model/formCodes';
import { findSpecFolder } from '../../shared/protocol/spec/specFolder';
import { readInvoiceFacts, type InvoiceFacts } from '../../shared/protocol/xml/invoiceFacts';
import { checkInvoiceXml } from '../../shared/protocol/xml/xmlRules';
import { createXsdValidator } from '../../shared/protocol/xml/xsd';

const specDir = findSpecFolder();
if (!specDir) throw new Error('These tests read the official samples and XSDs: set KSEF_SPEC_DIR to the folder containing ksef-docs/.');
const xsd = createXsdValidator(specDir);
const templates = path.join(specDir, 'ksef-client-csharp', 'KSeF.Client.Tests.Core', 'Templates');

const SELLER = '1234563218';
const BUYER = '9999999999';
/** Values for the templates' `#name#` placeholders (`#compliant#` in PEF CustomizationID is literal text, not one). */
const PLACEHOLDERS: Record<string, string> = {
  nip: SELLER,
  supplier_nip: SELLER,
  nip_podmiot1: SELLER,
  buyer_nip: BUYER,
  nipOdbiorca: BUYER,
  nip_podmiot2: BUYER,
  nip1_podmiot3: '1111111111',
  nip2_podmiot3: '1111111111',
  idwew1_podmiot3: '1234563218-00001',
  idwew2_podmiot3: '1234563218-00002',
  invoice_number: 'T-2026-0042',
  issue_date: '2026-01-15',
  due_date: '2026-02-15',
  buyer_reference: 'REF-42',
  iban: 'PL61109010140000071219812874',
  ksef_number: '1234563218-20260110-0100000000AB-7E',
};

function loadTemplate(file: string): string {
  return fs
    .readFileSync(path.join(templates, file), 'utf8')
    .replace(/#([A-Za-z0-9_]+)#/g, (whole, name: string) => PLACEHOLDERS[name] ?? whole);
}

const FA3_HEADER = {
  formCode: { systemCode: 'FA (3)', schemaVersion: '1-0E', value: 'FA' },
  namespace: 'http://crd.gov.pl/wzor/2025/06/25/13775/',
};

const CASES: [string, InvoiceSchema, InvoiceFacts][] = [
  [
    'invoice-template-fa-3.xml',
    'FA(3)',
    {
      ...FA3_HEADER,
      sellerNip: SELLER,
      invoiceNumber: 'FA/GRQMB-T-2026-0042/05/2025',
      issueDate: '2025-09-01',
      invoiceType: 'VAT',
      hasAttachment: false,
    },
  ],
  ['invoice-template-fa-3-with-attachment.xml', 'FA(3)', { ...FA3_HEADER, sellerNip: SELLER, invoiceType: 'VAT', hasAttachment: true }],
  [
    'invoice-template-fa-3-with-custom-Subject2.xml',
    'FA(3)',
    { ...FA3_HEADER, sellerNip: SELLER, invoiceType: 'VAT', hasAttachment: false },
  ],
  [
    'invoice-template-fa-3-with-custom-Subject3.xml',
    'FA(3)',
    { ...FA3_HEADER, sellerNip: SELLER, invoiceNumber: 'FV2026/02/150', invoiceType: 'VAT' },
  ],
  [
    'invoice-template-fa-2.xml',
    'FA(2)',
    {
      formCode: { systemCode: 'FA (2)', schemaVersion: '1-0E', value: 'FA' },
      namespace: 'http://crd.gov.pl/wzor/2023/06/29/12648/',
      sellerNip: SELLER,
      issueDate: '2025-06-16',
      invoiceType: 'VAT',
    },
  ],
  [
    'invoice-template-fa-rr-1.xml',
    'FA_RR(1)',
    {
      formCode: { systemCode: 'FA_RR (1)', schemaVersion: '1-1E', value: 'FA_RR' },
      namespace: 'http://crd.gov.pl/wzor/2026/03/06/14189/',
      sellerNip: SELLER,
      invoiceNumber: 'T-2026-0042',
      issueDate: '2026-02-23',
      invoiceType: 'VAT_RR',
    },
  ],
  [
    'invoice-template-fa-3-pef.xml',
    'PEF(3)',
    {
      namespace: 'urn:oasis:names:specification:ubl:schema:xsd:Invoice-2',
      rootElement: 'Invoice',
      sellerNip: SELLER,
      invoiceNumber: 'T-2026-0042',
      issueDate: '2026-01-15',
      invoiceType: '380',
    },
  ],
  ['invoice-template-fa-3-pef-with-attachment.xml', 'PEF(3)', { rootElement: 'Invoice', sellerNip: SELLER, invoiceNumber: 'T-2026-0042' }],
  [
    'invoice-template-fa-3-pef-correction.xml',
    'PEF_KOR(3)',
    {
      namespace: 'urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2',
      rootElement: 'CreditNote',
      sellerNip: SELLER,
      invoiceNumber: 'T-2026-0042',
      invoiceType: '381',
    },
  ],
];

describe('official sample invoices', () => {
  it('are all covered by this test', () => {
    const covered = new Set([...CASES.map(([file]) => file), 'invoice-template-fa-3-with-multiple-Subject3.xml']);
    expect(
      fs
        .readdirSync(templates)
        .filter((f) => f.endsWith('.xml'))
        .sort(),
    ).toEqual([...covered].sort());
  });

  it.each(CASES)('%s: facts, file rules and %s XSD', async (file, schema, expectedFacts) => {
    const xml = loadTemplate(file);
    expect(readInvoiceFacts(xml)).toMatchObject(expectedFacts);
    expect(checkInvoiceXml(Buffer.from(xml))).toEqual([]);
    expect(await xsd.validateInvoice(Buffer.from(xml), schema)).toEqual([]);
  });

  it('reports the known schema error of the multiple-Subject3 template (NIP and IDWew together) with line numbers', async () => {
    const errors = await xsd.validateInvoice(loadTemplate('invoice-template-fa-3-with-multiple-Subject3.xml'), 'FA(3)');
    expect(errors.length).toBeGreaterThan(0);
    for (const error of errors) expect(error).toMatch(/^Line \d+: Element 'IDWew': This element is not expected\./);
  });

  it('rejects an invoice validated against the wrong schema', async () => {
    const errors = await xsd.validateInvoice(loadTemplate('invoice-template-fa-2.xml'), 'FA(3)');
    expect(errors.join('\n')).toMatch(/No matching global declaration available for the validation root/);
  });
});

describe('createXsdValidator', () => {
  it('reports a document that is not even XML as errors rather than throwing', async () => {
    const errors = await xsd.validateInvoice('<Faktura><P_1>', 'FA(3)');
    expect(errors.length).toBeGreaterThan(0);
  });

  it('validates concurrently requested documents independently', async () => {
    const good = loadTemplate('invoice-template-fa-3.xml');
    const bad = good.replace('<P_2>', '<P_2>x</P_2><P_2>');
    const results = await Promise.all([good, bad, good, bad, good].map((xml) => xsd.validateInvoice(xml, 'FA(3)')));
    expect(results.map((errors) => errors.length > 0)).toEqual([false, true, false, true, false]);
  });

  it('fails clearly when the spec folder has no schemas', async () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'ksef-spec-'));
    try {
      await expect(createXsdValidator(empty).validateInvoice('<a/>', 'FA(3)')).rejects.toThrow(
        /Cannot read schema faktury\/schemy\/FA\/schemat_FA\(3\)_v1-0E\.xsd/,
      );
    } finally {
      fs.rmSync(empty, { recursive: true, force: true });
    }
  });
});
