import { checkInvoiceXml, hasAttachmentElement, inspectInvoiceXml, type XmlRuleViolation } from '../../shared/protocol/xml/xmlRules';
import { readInvoiceFacts, schemaMismatch } from '../../shared/protocol/xml/invoiceFacts';
import { buildDemoInvoice } from '../../sandbox/samples/demoInvoice';

const invoice = buildDemoInvoice({ invoiceNumber: 'FV/2026/01/7', issueDate: '2026-01-15' });

function check(xml: string | Buffer, limits?: Parameters<typeof checkInvoiceXml>[1]): XmlRuleViolation[] {
  return checkInvoiceXml(typeof xml === 'string' ? Buffer.from(xml, 'utf8') : xml, limits);
}

function rules(violations: XmlRuleViolation[]): string[] {
  return violations.map((v) => v.rule);
}

describe('checkInvoiceXml', () => {
  it('accepts our demo invoice', () => {
    expect(check(invoice)).toEqual([]);
  });

  it('accepts a document without XML declaration', () => {
    expect(check(invoice.replace(/^<\?xml[^>]*>\s*/, ''))).toEqual([]);
  });

  it('rejects a UTF-8 byte order mark and says how to save the file', () => {
    const violations = check(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(invoice)]));
    expect(rules(violations)).toEqual(['bom']);
    expect(violations[0].message).toMatch(/byte order mark.*EF BB BF.*without BOM/);
  });

  it('rejects UTF-16 files', () => {
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(invoice, 'utf16le')]);
    const violations = check(utf16);
    expect(rules(violations)).toEqual(['utf8']);
    expect(violations[0].message).toMatch(/UTF-16.*FFFE/);
  });

  it('rejects invalid UTF-8 and names the byte offset and line', () => {
    const latin2 = Buffer.from(invoice.replace('Kraków</AdresL2>', 'Krak\u0000w</AdresL2>'), 'utf8');
    latin2[latin2.indexOf(0)] = 0xf3; // "ó" in ISO-8859-2
    const offset = latin2.indexOf(0xf3);
    const violations = check(latin2);
    expect(rules(violations)).toEqual(['utf8']);
    expect(violations[0].message).toContain(`byte offset ${offset}`);
    expect(violations[0].message).toMatch(/line \d+/);
  });

  it('rejects overlong UTF-8 encodings and surrogates encoded in UTF-8', () => {
    expect(rules(check(Buffer.concat([Buffer.from('<a>'), Buffer.from([0xc0, 0xaf]), Buffer.from('</a>')])))).toEqual(['utf8']);
    expect(rules(check(Buffer.concat([Buffer.from('<a>'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('</a>')])))).toEqual(['utf8']);
  });

  it('rejects a declared encoding other than UTF-8, in any case spelling', () => {
    const violations = check(invoice.replace('encoding="UTF-8"', 'encoding="windows-1250"'));
    expect(rules(violations)).toEqual(['encoding-declaration']);
    expect(violations[0].message).toContain('encoding="windows-1250"');
    expect(check(invoice.replace('encoding="UTF-8"', "encoding='utf-8'"))).toEqual([]);
  });

  it('rejects XML 1.1', () => {
    expect(rules(check(invoice.replace('version="1.0"', 'version="1.1"')))).toEqual(['xml-version']);
  });

  it('rejects processing instructions with their position', () => {
    const xml = invoice.replace('<Faktura', '<?xml-stylesheet type="text/xsl" href="faktura.xsl"?>\n<Faktura');
    const violations = check(xml);
    expect(rules(violations)).toEqual(['processing-instruction']);
    expect(violations[0].message).toContain('<?xml-stylesheet ...?> at line 2, column 1');
  });

  it('rejects processing instructions inside the document but not text that only looks like one', () => {
    expect(rules(check('<a><b><?php echo 1 ?></b></a>'))).toEqual(['processing-instruction']);
    expect(check('<a><![CDATA[<?php echo 1 ?>]]><!-- <?pi?> --></a>')).toEqual([]);
  });

  it('rejects whitespace before the XML declaration once, as a misplaced declaration', () => {
    const violations = check(`\n${invoice}`);
    expect(rules(violations)).toEqual(['processing-instruction']);
    expect(violations[0].message).toMatch(/XML declaration that is not at the very start/);
  });

  it.each([
    ['U+0080', '\u0080'],
    ['U+009F', '\u009f'],
    ['U+FDD0', '\ufdd0'],
    ['U+1FFFE', '\u{1fffe}'],
    ['U+10FFFF', '\u{10ffff}'],
  ])('rejects the discouraged character %s with line and column', (code, character) => {
    const xml = invoice.replace('<Nazwa>Wiślana', `<Nazwa>Wi${character}ślana`);
    const violations = check(xml);
    expect(rules(violations)).toEqual(['discouraged-character']);
    expect(violations[0].message).toContain(`Character ${code} at line`);
  });

  it('accepts U+0085 and ordinary non-BMP characters, which KSeF allows', () => {
    expect(check('<a>\u0085 \u{1f600} \u{1fffd}</a>')).toEqual([]);
  });

  it('rejects control characters XML 1.0 forbids, even as character data', () => {
    const violations = check('<a>x\u0001y</a>');
    expect(rules(violations)).toEqual(['illegal-character']);
    expect(violations[0].message).toContain('U+0001 at line 1, column 5');
  });

  it('rejects character references to forbidden or discouraged characters', () => {
    const violations = check('<a t="&#x1;">&#128;&#x1FFFF;&#xA0;</a>');
    expect(rules(violations)).toEqual(['illegal-character', 'discouraged-character', 'discouraged-character']);
    expect(violations[0].message).toContain('&#x1; at line 1, column 7 stands for U+0001');
    expect(violations[2].message).toContain('&#x1FFFF; at line 1, column 20 stands for U+1FFFF');
  });

  it('reports text after the root element once', () => {
    expect(check('<a>x</a>trailing')).toHaveLength(1);
  });

  it('summarises many occurrences instead of listing all of them', () => {
    const violations = check(`<a>${'\u0080'.repeat(50)}</a>`);
    expect(violations).toHaveLength(4);
    expect(violations[3].message).toContain('47 more');
  });

  it('limits size to 1 000 000 bytes without attachment', () => {
    const padding = `<!--${'x'.repeat(1_000_000)}-->`;
    const violations = check(invoice.replace('</Faktura>', `${padding}</Faktura>`));
    expect(rules(violations)).toEqual(['size']);
    expect(violations[0].message).toMatch(/has \d+ bytes; an invoice without attachments may have at most 1000000 bytes/);
  });

  it('allows up to 3 000 000 bytes with a Zalacznik element, and no more', () => {
    const withAttachment = (padding: number) =>
      invoice.replace('</Faktura>', `<Zalacznik><!--${'x'.repeat(padding)}--></Zalacznik></Faktura>`);
    expect(rules(check(withAttachment(1_500_000)))).toEqual([]);
    const violations = check(withAttachment(3_000_000));
    expect(rules(violations)).toEqual(['size']);
    expect(violations[0].message).toContain('with an attachment (Zalacznik) may have at most 3000000 bytes');
  });

  it('applies overridden limits', () => {
    expect(rules(check(invoice, { maxBytes: 100 }))).toEqual(['size']);
  });

  it('recognises attachment elements with and without prefix, but not the word in text', () => {
    expect(hasAttachmentElement(Buffer.from('<Faktura><Zalacznik/></Faktura>'))).toBe(true);
    expect(hasAttachmentElement(Buffer.from('<f:Faktura><f:Zalacznik>\n</f:Zalacznik></f:Faktura>'))).toBe(true);
    expect(hasAttachmentElement(Buffer.from('<Faktura><P_7>Zalacznik nr 1</P_7></Faktura>'))).toBe(false);
    expect(hasAttachmentElement(Buffer.from('<Faktura><ZalacznikX/></Faktura>'))).toBe(false);
  });

  it.each([
    ['a truncated document', invoice.slice(0, 400), /not well-formed XML/],
    ['mismatched tags', '<a><b></a>', /end tag <\/a> does not match the open element <b>: expected <\/b> \(at line 1, column 7\)/],
    ['a bare ampersand', '<a>Kowalski & syn</a>', /'&' is not expected/],
    ['an undefined entity', '<a>&nbsp;</a>', /Undefined entity reference &nbsp; at line 1, column 4/],
    ['two root elements', '<a/><b/>', /more than one root element \(another element starts at line 1, column 5\)/],
    ['text after the root', '<a/>tail', /Text outside the root element at line 1, column 5/],
    ['text before the root', 'x<a/>', /Text outside the root element at line 1, column 1/],
    ['an empty file', '', /not well-formed XML/],
  ])('rejects %s as not well-formed', (_name, xml, message) => {
    const violations = check(xml);
    expect(rules(violations)).toContain('well-formed');
    expect(violations.map((v) => v.message).join('\n')).toMatch(message);
  });

  it.each([
    ['a duplicate attribute', '<a b="1"\n   b="2"/>', /attribute b appears twice in the start tag <a>: keep one \(at line 2, column 4\)/],
    ["'<' in an attribute value", '<a b="x<y"/>', /'<' in the value of attribute b: escape it as &lt; \(at line 1, column 8\)/],
    ['attributes without a space between them', '<a b="1"c="2"/>', /unexpected 'c="2"\/>' in the start tag <a>/],
    ["']]>' in text", '<a>x]]>y</a>', /']]>' is not allowed in character data: escape '>' as &gt; \(at line 1, column 5\)/],
    ["'--' in a comment", '<a><!-- a -- b --></a>', /'--' is not allowed inside a comment/],
    ['an unclosed element', '<a>\n<b>x</b>', /the element <a> is not closed/],
    ['a malformed XML declaration', '<?xml encoding="UTF-8"?><a/>', /XML declaration at the start of the file is malformed/],
  ])('says where and how to fix %s', (_name, xml, message) => {
    const violations = check(xml);
    expect(rules(violations)).toEqual(['well-formed']);
    expect(violations[0].message).toMatch(message);
  });

  it('finds a duplicate attribute among many', () => {
    const attributes = Array.from({ length: 40 }, (_, i) => `a${i}="${i}"`).join(' ');
    expect(check(`<x ${attributes}/>`)).toEqual([]);
    expect(check(`<x ${attributes} a3="again"/>`)[0].message).toMatch(/attribute a3 appears twice/);
    expect(check(`<x a3="first" ${attributes}/>`)[0].message).toMatch(/attribute a3 appears twice/);
  });

  it('rejects a DOCTYPE, which it does not read', () => {
    const violations = check('<!DOCTYPE a [<!ENTITY e "x">]><a>&e;</a>');
    expect(rules(violations)).toEqual(['doctype']);
    expect(violations[0].message).toContain('<!DOCTYPE ...>) at line 1, column 1');
  });

  it('finds forbidden characters where the scan does not look at each one: comments, CDATA, names', () => {
    expect(rules(check('<a><!-- \u0080 --></a>'))).toEqual(['discouraged-character']);
    expect(rules(check('<a><![CDATA[\u0001]]></a>'))).toEqual(['illegal-character']);
    expect(rules(check('<a b="\ufdd0"/>'))).toEqual(['discouraged-character']);
    expect(rules(check('<a\u{1fffe}/>'))).toContain('discouraged-character');
  });

  it('accepts character references and the predefined entities', () => {
    expect(check('<a b="&quot;x&quot;">&lt;&gt;&amp;&apos;&#x141;&#322;</a>')).toEqual([]);
  });
});

describe('readInvoiceFacts', () => {
  it('reads the facts of our FA(3) demo invoice', () => {
    expect(readInvoiceFacts(invoice)).toEqual({
      rootElement: 'Faktura',
      namespace: 'http://crd.gov.pl/wzor/2025/06/25/13775/',
      formCode: { systemCode: 'FA (3)', schemaVersion: '1-0E', value: 'FA' },
      sellerNip: '1234563218',
      invoiceType: 'VAT',
      invoiceNumber: 'FV/2026/01/7',
      issueDate: '2026-01-15',
      hasAttachment: false,
    });
  });

  it('reads Buffers, prefixed roots, decoded entities and CDATA', () => {
    const xml = Buffer.from(
      '<f:Faktura xmlns:f="urn:x"><f:Naglowek><f:KodFormularza kodSystemowy="FA (3)" wersjaSchemy="1-0E">FA</f:KodFormularza></f:Naglowek>' +
        '<f:Fa><f:P_2>A&amp;B/<![CDATA[<1>]]></f:P_2></f:Fa><f:Zalacznik/></f:Faktura>',
    );
    expect(readInvoiceFacts(xml)).toMatchObject({
      namespace: 'urn:x',
      invoiceNumber: 'A&B/<1>',
      hasAttachment: true,
      formCode: { value: 'FA' },
    });
  });

  it('does not take the buyer NIP or nested elements for the seller', () => {
    const facts = readInvoiceFacts(
      '<Faktura><Podmiot2><DaneIdentyfikacyjne><NIP>9999999999</NIP></DaneIdentyfikacyjne></Podmiot2></Faktura>',
    );
    expect(facts.sellerNip).toBeUndefined();
  });

  it('returns what it can from malformed XML and never throws', () => {
    expect(readInvoiceFacts(invoice.slice(0, invoice.indexOf('<P_13_1>') + 3))).toMatchObject({
      sellerNip: '1234563218',
      invoiceNumber: 'FV/2026/01/7',
      issueDate: '2026-01-15',
    });
    for (const garbage of ['', '<', '<<<>>>', '</a></b>', '<a b="', '\u0000\uffff', Buffer.from([0xff, 0xfe, 0x00])]) {
      expect(() => readInvoiceFacts(garbage)).not.toThrow();
    }
    expect(readInvoiceFacts('not xml at all')).toEqual({});
  });

  it('reads a fact cut off by the end of the file once', () => {
    const cut = invoice.slice(0, invoice.indexOf('</P_2>'));
    expect(readInvoiceFacts(cut).invoiceNumber).toBe('FV/2026/01/7');
    expect(inspectInvoiceXml(Buffer.from(cut)).facts.invoiceNumber).toBe('FV/2026/01/7');
  });

  it('reads the facts after a syntax error early in the document', () => {
    const broken = invoice.replace('<Naglowek>', '<Naglowek>R&D');
    expect(rules(check(broken))).toEqual(['well-formed']);
    expect(readInvoiceFacts(broken)).toEqual(readInvoiceFacts(invoice));
  });

  it('gives what checkInvoiceXml and readInvoiceFacts give, in one pass', () => {
    for (const xml of [invoice, invoice.replace('<P_2>', '<P_2><!-- x -->&lt;'), invoice.replace('</Podmiot1>', '</Podmiot>'), 'x']) {
      expect(inspectInvoiceXml(Buffer.from(xml))).toEqual({ violations: check(xml), facts: readInvoiceFacts(xml) });
    }
  });

  it('reads FA_RR and UBL element names', () => {
    expect(
      readInvoiceFacts(
        '<Faktura xmlns="urn:rr"><Podmiot1><DaneIdentyfikacyjne><NIP>1234563218</NIP></DaneIdentyfikacyjne></Podmiot1>' +
          '<FakturaRR><P_4B>2026-02-23</P_4B><P_4C>RR/1</P_4C><RodzajFaktury>VAT_RR</RodzajFaktury></FakturaRR></Faktura>',
      ),
    ).toMatchObject({ sellerNip: '1234563218', issueDate: '2026-02-23', invoiceNumber: 'RR/1', invoiceType: 'VAT_RR' });
    expect(
      readInvoiceFacts(
        '<CreditNote xmlns="urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2" xmlns:cbc="c" xmlns:cac="a"><cbc:ID>KOR/1</cbc:ID>' +
          '<cbc:IssueDate>2026-01-02</cbc:IssueDate><cbc:CreditNoteTypeCode>381</cbc:CreditNoteTypeCode><cac:AccountingSupplierParty><cac:Party>' +
          '<cac:PartyTaxScheme><cbc:CompanyID>PL1234563218</cbc:CompanyID></cac:PartyTaxScheme></cac:Party></cac:AccountingSupplierParty>' +
          '<cac:BillingReference><cac:InvoiceDocumentReference><cbc:ID>FV/1</cbc:ID></cac:InvoiceDocumentReference></cac:BillingReference></CreditNote>',
      ),
    ).toEqual({
      rootElement: 'CreditNote',
      namespace: 'urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2',
      invoiceNumber: 'KOR/1',
      issueDate: '2026-01-02',
      invoiceType: '381',
      sellerNip: '1234563218',
    });
  });
});

describe('schemaMismatch', () => {
  it('accepts an invoice in a session of its own schema', () => {
    expect(schemaMismatch(readInvoiceFacts(invoice), 'FA(3)')).toEqual([]);
    expect(schemaMismatch(readInvoiceFacts(buildDemoInvoice({ schema: 'FA(2)' })), 'FA(2)')).toEqual([]);
  });

  it('names the namespace and form code that do not fit the session', () => {
    const problems = schemaMismatch(readInvoiceFacts(buildDemoInvoice({ schema: 'FA(2)' })), 'FA(3)');
    expect(problems).toHaveLength(2);
    expect(problems[0]).toContain('"http://crd.gov.pl/wzor/2023/06/29/12648/", but the session was opened for FA(3)');
    expect(problems[1]).toContain('declares kodSystemowy="FA (2)"');
  });

  it('checks UBL invoices by root namespace only', () => {
    const creditNote = readInvoiceFacts('<CreditNote xmlns="urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"/>');
    expect(schemaMismatch(creditNote, 'PEF_KOR(3)')).toEqual([]);
    expect(schemaMismatch(creditNote, 'PEF(3)')).toEqual([
      expect.stringContaining('whose invoices use namespace "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"'),
    ]);
  });
});
