/**
 * The well-formedness verdict of our own one-pass check (`checkInvoiceXml`) against libxml2's (`xmllint --noout`),
 * a parser that shares no code with ours, on a few hundred broken copies of a valid invoice. A file libxml2 rejects
 * must not pass; a file it accepts must get no `well-formed` or `illegal-character` violation from us. Namespace
 * errors (XML Namespaces 1.0) count as rejections, though xmllint exits 0 on them: KSeF's .NET reader refuses them.
 */
import { checkInvoiceXml, inspectInvoiceXml, type XmlRuleViolation } from '../../shared/protocol/xml/xmlRules';
import { InvoiceFactReader } from '../../shared/protocol/xml/invoiceFacts';
import { buildDemoInvoice } from '../../sandbox/samples/demoInvoice';
import { run, tempDir } from '../xades/fixtures';

const plainInvoice = buildDemoInvoice({ invoiceNumber: 'FV/2026/01/7', issueDate: '2026-01-15' });
const invoice = plainInvoice.replace(
  '</Faktura>',
  // Constructs the demo invoice lacks, so that mutations reach them too.
  '<!-- uwagi --><Zalacznik><BlokDanych><ZNaglowek a="x &amp; y" b=\'&#x141;\'>A&lt;B <![CDATA[<i>]]></ZNaglowek></BlokDanych></Zalacznik></Faktura>\n',
);

/** Deterministic, so that a failure can be reproduced (Park-Miller). */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 16807) % 2147483647;
    return state / 2147483647;
  };
}

const SNIPPETS = [
  '&',
  '&amp',
  '&#;',
  '&#x;',
  '&#xZ;',
  '&nbsp;',
  '&#0;',
  '&#65;',
  '&#x10FFFF;',
  ']]>',
  '<!-- a -- b -->',
  '<!---->',
  '<!--->',
  '<![CDATA[x]]>',
  '<![CDATA[x',
  '<?pi x?>',
  '<?xml version="1.0"?>',
  '</x>',
  '<x>',
  '<x/>',
  '< x/>',
  '<x a="1" a="2"/>',
  '<x a="<"/>',
  '<x a=1/>',
  '<x a="1"b="2"/>',
  '<x a = "1" />',
  '<x a/>',
  '<1x/>',
  '<x:y/>',
  ' xmlns:x="urn:x"',
  ' x:a="1"',
  ' xmlns:x=""',
  'x:',
  ':',
  '<!DOCTYPE x>',
  '<!ELEMENT x>',
  '<',
  '>',
  '"',
  "'",
  '=',
  '/',
  '\u00b7',
];

const MARKUP = /[<>"'=/&!?\-\]]/g;

/** Small documents at the edges of the grammar, some well-formed, some not. */
const EDGE_CASES = [
  '<a>]]></a>',
  '<a>]]</a>',
  '<a>]>]</a>',
  '<a b="&lt;"/>',
  '<a b="x>y"/>',
  '<a></a >',
  '<a></a\n>',
  '<a/ >',
  "<a b='\"'/>",
  '<a\tb="1"\r\n/>',
  '&amp;<a/>',
  '<!-- x --><a/><!-- y -->',
  '<a/><![CDATA[x]]>',
  '<![CDATA[x]]><a/>',
  '<?xml version="1.0"?><?xml version="1.0"?><a/>',
  "<?xml version='1.0' standalone='yes'?><a/>",
  '<?xml version="1.0" standalone="maybe"?><a/>',
  '<?xml version="1.0"encoding="UTF-8"?><a/>',
  '<?xml version="1.0" standalone="no" encoding="UTF-8"?><a/>',
  '<?xml  version = "1.0"  ?><a/>',
  '<?xml version="1.0" encoding="-x"?><a/>',
  '',
  ' \n',
  '<a>&#x0;</a>',
  '<a>&#xD800;</a>',
  '<a>&#1114112;</a>',
  '<a>&#99999999999999999999;</a>',
  '<a>&#X41;</a>',
  '<a>&#x41</a>',
  '<a>&lt&gt;</a>',
  '<a>&a.b;</a>',
  '<a:b xmlns:a="u"/>',
  '<:a/>',
  '<a-b/>',
  '<-a/>',
  '<a.b/>',
  '<é/>',
  '<a\u00b7/>',
  '<\u00b7a/>',
  '<a\u0300/>',
  '<\u0300a/>',
  '<a\u{10000}/>',
  '<\u{10000}a/>',
  '<a\u2070/>',
  '<a\u00d7/>',
  '<a b="1" c=\'2\' d="3"/>',
  '<a b="1" c="2" b="3"/>',
  '<a><b></a></b>',
  '<a><b/></a>x',
  '<a>',
  '<a',
  '<a b="1',
  '<a><!-- x</a>',
  '<a><?pi</a>',
  '<a><![CDATA[</a>',
  '<a><!DOCTYPE a></a>',
  '<!DOCTYPE a [<!ELEMENT a ANY>]><a/>',
  '<a><!x></a>',
  '<a>< b/></a>',
  '<a></ a>',
  '</a>',
  '<a/></a>',
];

/** ` prefix:b0="1" prefix:b1="1" ...`, `count` attributes. */
const manyAttributes = (prefix: string, count: number): string => Array.from({ length: count }, (_, i) => ` ${prefix}:b${i}="1"`).join('');

/**
 * Documents at the edges of XML Namespaces 1.0 (Third Edition), with the verdict the recommendation gives
 * (`true`: namespace-well-formed), which xmllint must give too.
 */
const NAMESPACE_EDGE_CASES: [string, boolean][] = [
  // Prefix Declared: elements and attributes, nested scopes, siblings, redeclaration in a child.
  ['<x:a/>', false],
  ['<x:a xmlns:x="urn:x"/>', true],
  ['<a xmlns:x="urn:x"><x:b/></a>', true],
  ['<a xmlns:x="urn:x"><b><c><x:d/></c></b></a>', true],
  ['<a><x:b xmlns:x="urn:x"/><x:c/></a>', false],
  ['<a><b xmlns:x="urn:x"></b><x:c/></a>', false],
  ['<a><b xmlns:x="urn:x"><x:c/></b><x:c/></a>', false],
  ['<x:a xmlns:x="urn:x"><x:b xmlns:x="urn:y"><x:c/></x:b><x:d/></x:a>', true],
  ['<a xmlns:x="urn:x"><x:b></x:b><x:b/></a>', true],
  ['<a y:b="1"/>', false],
  ['<a xmlns:y="urn:y" y:b="1"/>', true],
  ['<a xmlns:y="urn:y"><b y:c="1"/></a>', true],
  ['<a><b xmlns:y="urn:y"/><c y:d="1"/></a>', false],
  ['<a y:b="1" xmlns:y="urn:y"/>', true],
  ['<y:a y:b="1" xmlns:y="urn:y"/>', true],
  ['<a xmlns:x="urn:x" xmlns:y="urn:y"><x:b y:c="1" x:c="2"/></a>', true],
  ['<a xmlns:x="urn:x"><x:b></x:c></a>', false],
  ['<x:a xmlns:x="urn:x"></y:a>', false],
  // The xml prefix is predeclared and bound to its namespace only; xmlns is never declared.
  ['<a xml:lang="pl"/>', true],
  ['<xml:a/>', true],
  ['<a xmlns:xml="http://www.w3.org/XML/1998/namespace" xml:lang="pl"/>', true],
  ['<a xmlns:xml="urn:x"/>', false],
  ['<a xmlns:xml=""/>', false],
  ['<a xmlns:x="http://www.w3.org/XML/1998/namespace"/>', false],
  ['<a xmlns:x="http://www.w3.org/XML/1998/namespac&#x65;"/>', false],
  ['<a xmlns="http://www.w3.org/XML/1998/namespace"/>', false],
  ['<a xmlns:x="http://www.w3.org/XML/1998/namespace/"/>', true],
  ['<a xmlns:xmlns="urn:x"/>', false],
  ['<a xmlns:xmlns=""/>', false],
  ['<xmlns:a/>', false],
  ['<a xmlns:x="http://www.w3.org/2000/xmlns/"/>', false],
  ['<a xmlns="http://www.w3.org/2000/xmlns/"/>', false],
  ['<a xmlns="http://www.w3.org/2000/xmlns&#x2F;"/>', false],
  ['<a xmlns:x="urn:x" x:xmlns="1"/>', true],
  ['<a xmlnsx="1" xmlns.x="2"/>', true],
  // No Prefix Undeclaring; the default namespace may be undeclared.
  ['<a xmlns:x=""/>', false],
  ["<a xmlns:x=''/>", false],
  ['<x:a xmlns:x="urn:x"><b xmlns:x=""/></x:a>', false],
  ['<a xmlns="">x</a>', true],
  ['<a xmlns="urn:x"><b xmlns=""><c/></b></a>', true],
  ['<a xmlns="urn:x" b="1"/>', true],
  // Attributes Unique after expansion.
  ['<a xmlns:x="urn:u" xmlns:y="urn:u" x:b="1" y:b="2"/>', false],
  ['<a xmlns:x="urn:u" x:b="1" xmlns:y="urn:u" y:b="2"/>', false],
  ['<a xmlns:x="urn:u" xmlns:y="urn:u"><b x:c="1" y:c="2"/></a>', false],
  ['<a xmlns:x="urn:u"><b xmlns:y="urn:u" x:c="1" y:c="2"/></a>', false],
  ['<a xmlns:x="urn:u"><b xmlns:x="urn:v" xmlns:y="urn:u" x:c="1" y:c="2"/></a>', true],
  ['<a xmlns:x="&amp;" xmlns:y="&#38;" x:b="1" y:b="2"/>', false],
  ['<a xmlns:x="urn:u" xmlns:y="urn:v" x:b="1" y:b="2"/>', true],
  ['<a xmlns:x="urn:u" xmlns:y="urn:u" x:b="1" y:c="2"/>', true],
  ['<a xmlns:x="urn:u" x:b="1" b="2"/>', true],
  ['<a xmlns:x="urn:u" xmlns="urn:u" x:b="1" b="2"/>', true],
  ['<a xmlns:x="urn:u" x:b="1" x:b="2"/>', false],
  // Past the number of attributes compared pairwise.
  [`<a xmlns:x="urn:u" xmlns:y="urn:u"${manyAttributes('x', 20)} y:b19="2"/>`, false],
  [`<a xmlns:x="urn:u" xmlns:y="urn:v"${manyAttributes('x', 20)} y:b19="2"/>`, true],
  [`<a xmlns:x="urn:u"${manyAttributes('x', 20)} z:b="2"/>`, false],
  ['<a xmlns:x="http://www.w3.org/XML/1998/namespac" xml:lang="1" x:lang="2"/>', true],
  // QName: at most one colon, not first or last, a local name that starts a name.
  ['<x:b:c xmlns:x="urn:x"/>', false],
  ['<x: xmlns:x="urn:x"/>', false],
  ['<:a/>', false],
  ['<a :b="1"/>', false],
  ['<a b:="1"/>', false],
  ['<a xml:b:c="1"/>', false],
  ['<a xmlns:="urn:x"/>', false],
  ['<a xmlns:1x="urn:x"/>', false],
  ['<a xmlns:x:y="urn:x"/>', false],
  ['<x:1b xmlns:x="urn:x"/>', false],
  ['<x:-b xmlns:x="urn:x"/>', false],
  ['<x:\u00b7b xmlns:x="urn:x"/>', false],
  ['<x:éb xmlns:x="urn:x"/>', true],
  ['<a xmlns:é="urn:x" é:b="1"/>', true],
  ['<a xmlns:x.y="urn:x" x.y:b="1"/>', true],
  ['<x:\u{10000} xmlns:x="urn:x"/>', true],
  // Namespace names are any string but the empty one (libxml2's URI syntax check is not a namespace constraint).
  ['<a xmlns:x="u:v"/>', true],
  ['<a xmlns:x="&amp;"/>', true],
];

/** `count` broken (or, by chance, still valid) copies of `xml`. */
function mutations(xml: string, count: number): string[] {
  const next = random(Number(process.env.MUTATION_SEED ?? 20260115));
  const pick = (n: number): number => Math.floor(next() * n);
  const markup = [...xml.matchAll(MARKUP)].map((m) => m.index!);
  const position = (): number => (next() < 0.6 ? markup[pick(markup.length)] + pick(3) - 1 : pick(xml.length));
  const cases: string[] = [];
  while (cases.length < count) {
    const at = Math.max(0, Math.min(xml.length - 1, position()));
    const kind = pick(8);
    let mutated: string;
    if (kind === 0) mutated = xml.slice(0, at) + xml.slice(at + 1);
    else if (kind === 1) mutated = xml.slice(0, at) + xml[at] + xml.slice(at);
    else if (kind === 2) mutated = xml.slice(0, at) + xml[at + 1] + xml[at] + xml.slice(at + 2);
    else if (kind === 3) mutated = xml.slice(0, at) + SNIPPETS[pick(SNIPPETS.length)] + xml.slice(at);
    else if (kind === 4) mutated = xml.slice(0, at) + xml[markup[pick(markup.length)]] + xml.slice(at + 1);
    else if (kind === 5) mutated = xml.slice(0, at);
    else if (kind === 6) {
      // Mismatched tags: one letter of an end tag's name changed.
      const ends = [...xml.matchAll(/<\/(\w)/g)];
      const end = ends[pick(ends.length)].index! + 2;
      mutated = xml.slice(0, end) + (xml[end] === 'Z' ? 'Y' : 'Z') + xml.slice(end + 1);
    } else {
      mutated = withPrefix(xml, pick);
    }
    if (mutated !== xml) cases.push(mutated);
  }
  return cases;
}

/**
 * A prefix in `xml`: an element renamed x:Name (with its end tag) or an attribute x:a added, and xmlns:x declared on
 * the root element, on that element, on some other element (in scope or not), nowhere, or undeclared (xmlns:x="").
 */
function withPrefix(xml: string, pick: (n: number) => number): string {
  const starts = [...xml.matchAll(/<([A-Za-z_][\w.-]*)/g)];
  const target = starts[pick(starts.length)];
  const afterName = target.index! + target[0].length;
  const edits: [number, string][] = [];
  if (pick(2) === 0) {
    edits.push([target.index! + 1, 'x:']);
    const selfClosing = xml[xml.indexOf('>', afterName) - 1] === '/';
    if (!selfClosing) edits.push([xml.indexOf(`</${target[1]}>`, afterName) + 2, 'x:']);
  } else {
    edits.push([afterName, ' x:a="1"']);
  }
  const where = pick(5);
  if (where === 0) edits.push([starts[0].index! + starts[0][0].length, ' xmlns:x="urn:x"']);
  else if (where === 1) edits.push([afterName, ' xmlns:x="urn:x"']);
  else if (where === 2) {
    const other = starts[pick(starts.length)];
    edits.push([other.index! + other[0].length, ' xmlns:x="urn:x"']);
  } else if (where === 3) edits.push([afterName, ' xmlns:x=""']);
  let mutated = xml;
  for (const [at, insert] of edits.sort((a, b) => b[0] - a[0])) mutated = mutated.slice(0, at) + insert + mutated.slice(at);
  return mutated;
}

/**
 * Names of the files xmllint reports a parser (well-formedness) error or a namespace error for (xmllint exits 0 on
 * the latter). Its namespace error for a namespace name that is no valid URI (RFC 3986) does not count: that is no
 * constraint of XML Namespaces 1.0, and .NET's reader does not check it either.
 */
function rejectedByXmllint(files: string[]): Set<string> {
  const { output } = run('xmllint', ['--noout', '--nonet', ...files]);
  const rejected = new Set<string>();
  for (const line of output.split('\n')) {
    const match = /^(.+?):\d+: (?:parser|namespace) error : (.*)$/.exec(line);
    if (match && !/ is not a valid URI$/.test(match[2])) rejected.add(match[1]);
  }
  return rejected;
}

const wellFormedness = (violations: XmlRuleViolation[]): XmlRuleViolation[] =>
  violations.filter((v) => v.rule === 'well-formed' || v.rule === 'illegal-character');

/** The facts as the forgiving scanner alone reads them, from the first character on. */
function forgivingFacts(xml: string): ReturnType<InvoiceFactReader['result']> {
  const reader = new InvoiceFactReader(xml, false);
  reader.readOnForgivingly(xml, {
    suspectCharacters: true,
    resumeAt: 0,
    openElements: [],
    instructions: [],
    unknownEntities: [],
    badCharacterReferences: [],
  });
  return reader.result();
}

describe('well-formedness against libxml2', () => {
  it('accepts the base invoice, as xmllint does', () => {
    const dir = tempDir();
    try {
      expect(rejectedByXmllint([dir.file('base.xml', invoice)]).size).toBe(0);
      expect(checkInvoiceXml(Buffer.from(invoice))).toEqual([]);
    } finally {
      dir.remove();
    }
  });

  it('gives the same verdict as xmllint on documents at the edges of the grammar', () => {
    const dir = tempDir();
    try {
      const files = EDGE_CASES.map((xml, i) => dir.file(`edge-${i}.xml`, xml));
      const rejected = rejectedByXmllint(files);
      const verdicts = EDGE_CASES.map((xml, i) => {
        const violations = checkInvoiceXml(Buffer.from(xml));
        return { xml, xmllint: rejected.has(files[i]) ? 'rejects' : 'accepts', we: violations.map((v) => v.rule).join(',') };
      });
      const disagreements = verdicts.filter(({ xmllint, we }) =>
        xmllint === 'rejects' ? we === '' : /well-formed|illegal-character/.test(we),
      );
      expect(disagreements).toEqual([]);
    } finally {
      dir.remove();
    }
  });

  it('gives the namespace verdict of the recommendation, as xmllint does, on documents at the edges of XML Namespaces 1.0', () => {
    const dir = tempDir();
    try {
      const documents = NAMESPACE_EDGE_CASES.map(([xml]) => xml);
      const files = documents.map((xml, i) => dir.file(`namespace-${i}.xml`, xml));
      const rejected = rejectedByXmllint(files);
      const verdicts = documents.map((xml, i) => ({
        xml,
        expected: NAMESPACE_EDGE_CASES[i][1] ? 'accepts' : 'rejects',
        xmllint: rejected.has(files[i]) ? 'rejects' : 'accepts',
        we: wellFormedness(checkInvoiceXml(Buffer.from(xml))).length > 0 ? 'rejects' : 'accepts',
      }));
      expect(verdicts.filter(({ expected, xmllint, we }) => xmllint !== expected || we !== expected)).toEqual([]);
    } finally {
      dir.remove();
    }
  });

  it('names the prefix, the element, the place and the fix of a namespace error', () => {
    const message = (xml: string): string[] => checkInvoiceXml(Buffer.from(xml)).map((v) => `${v.rule}: ${v.message}`);
    // The invoice's root element with a prefix nobody declared, as a .NET reader refuses it ("'x' is an undeclared prefix").
    const undeclared = plainInvoice.replace(/<Faktura\b/, '<x:Faktura').replace('</Faktura>', '</x:Faktura>');
    const root = undeclared.indexOf('<x:Faktura');
    const line = undeclared.slice(0, root).split('\n').length;
    const column = root - undeclared.lastIndexOf('\n', root - 1) + 1;
    expect(message(undeclared)).toEqual([
      `well-formed: The file is not well-formed XML: the namespace prefix x of the element <x:Faktura> is not declared: declare xmlns:x="..." on this element or an ancestor, or remove the prefix (at line ${line}, column ${column}). Fix the XML syntax.`,
    ]);
    expect(
      checkInvoiceXml(Buffer.from(undeclared.replace('<x:Faktura', '<x:Faktura xmlns:x="http://crd.gov.pl/wzor/2025/06/25/13775/"'))),
    ).toEqual([]);
    expect(message('<a>\n  <b y:c="1"/>\n</a>')).toEqual([
      'well-formed: The file is not well-formed XML: the namespace prefix y of the attribute y:c in the start tag <b> is not declared: declare xmlns:y="..." on this element or an ancestor, or remove the prefix (at line 2, column 6). Fix the XML syntax.',
    ]);
    expect(message('<a xmlns:y="urn:y"><b xmlns:y=""/></a>')).toEqual([
      'well-formed: The file is not well-formed XML: xmlns:y="" in the start tag <b> undeclares the prefix y, which XML 1.0 namespaces do not allow: bind y to a namespace name, or remove the declaration and the prefix from the names below it (at line 1, column 23). Fix the XML syntax.',
    ]);
    expect(message('<a xmlns:x="urn:u" xmlns:y="urn:u" x:b="1" y:b="2"/>')[0]).toContain(
      'the attributes x:b and y:b of the start tag <a> are the same attribute: both prefixes are bound to the namespace "urn:u"; keep one (at line 1, column 44)',
    );
    expect(message('<xmlns:a/>')[0]).toContain('the element <xmlns:a> has the prefix xmlns, which is reserved');
    expect(message('<a xmlns:xml="urn:x"/>')[0]).toContain(
      'the prefix xml is bound to http://www.w3.org/XML/1998/namespace and to no other',
    );
    expect(message('<a:b:c/>')[0]).toContain(
      'the element name <a:b:c> is not a qualified name, as XML namespaces require (it has more than one colon)',
    );
  });

  it('finds a forbidden character wherever it stands', () => {
    // A control, the discouraged ranges' edges, and the last two code points of the BMP and of plane 1.
    const forbidden = [
      '\u0001',
      '\u001f',
      '\u007f',
      '\u0084',
      '\u0086',
      '\u009f',
      '\ufdd0',
      '\ufdef',
      '\ufffe',
      '\uffff',
      '\u{1fffe}',
      '\u{10ffff}',
    ];
    const next = random(7);
    const missed: string[] = [];
    for (let k = 0; k < 600; k++) {
      // Without comments or CDATA, which make the check look at every character anyway.
      const at = Math.floor(next() * plainInvoice.length);
      const character = forbidden[k % forbidden.length];
      const rules = checkInvoiceXml(Buffer.from(plainInvoice.slice(0, at) + character + plainInvoice.slice(at))).map((v) => v.rule);
      if (!rules.includes('illegal-character') && !rules.includes('discouraged-character')) {
        missed.push(`U+${character.codePointAt(0)!.toString(16)} at ${at}: ${rules.join(',')}`);
      }
    }
    expect(missed).toEqual([]);
  });

  it('reads the same facts from broken invoices as the forgiving scanner alone', () => {
    const differing = mutations(invoice, 600).filter((xml) => {
      const { facts } = inspectInvoiceXml(Buffer.from(xml));
      return JSON.stringify(facts) !== JSON.stringify(forgivingFacts(xml));
    });
    expect(differing).toEqual([]);
  });

  it('gives the same verdict as xmllint on 600 mutations of an invoice', () => {
    const dir = tempDir();
    try {
      const cases = mutations(invoice, Number(process.env.MUTATIONS ?? 600));
      const files = cases.map((xml, i) => dir.file(`case-${i}.xml`, xml));
      const rejected = rejectedByXmllint(files);
      const disagreements: string[] = [];
      cases.forEach((xml, i) => {
        const violations = checkInvoiceXml(Buffer.from(xml));
        const oracleRejects = rejected.has(files[i]);
        if (oracleRejects && violations.length === 0) disagreements.push(`case ${i}: xmllint rejects, we accept`);
        if (!oracleRejects && wellFormedness(violations).length > 0) {
          disagreements.push(`case ${i}: xmllint accepts, we say ${wellFormedness(violations)[0].message}`);
        }
      });
      // Both verdicts occur, or the corpus tests nothing.
      expect(rejected.size).toBeGreaterThan(200);
      expect(cases.length - rejected.size).toBeGreaterThan(50);
      expect(disagreements).toEqual([]);
    } finally {
      dir.remove();
    }
  });
});
