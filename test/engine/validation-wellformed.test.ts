/**
 * The well-formedness verdict of our own one-pass check (`checkInvoiceXml`) against libxml2's (`xmllint --noout`),
 * a parser that shares no code with ours, on a few hundred broken copies of a valid invoice. A file libxml2 rejects
 * must not pass; a file it accepts must get no `well-formed` or `illegal-character` violation from us.
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

/** `count` broken (or, by chance, still valid) copies of `xml`. */
function mutations(xml: string, count: number): string[] {
  const next = random(Number(process.env.MUTATION_SEED ?? 20260115));
  const pick = (n: number): number => Math.floor(next() * n);
  const markup = [...xml.matchAll(MARKUP)].map((m) => m.index!);
  const position = (): number => (next() < 0.6 ? markup[pick(markup.length)] + pick(3) - 1 : pick(xml.length));
  const cases: string[] = [];
  while (cases.length < count) {
    const at = Math.max(0, Math.min(xml.length - 1, position()));
    const kind = pick(7);
    let mutated: string;
    if (kind === 0) mutated = xml.slice(0, at) + xml.slice(at + 1);
    else if (kind === 1) mutated = xml.slice(0, at) + xml[at] + xml.slice(at);
    else if (kind === 2) mutated = xml.slice(0, at) + xml[at + 1] + xml[at] + xml.slice(at + 2);
    else if (kind === 3) mutated = xml.slice(0, at) + SNIPPETS[pick(SNIPPETS.length)] + xml.slice(at);
    else if (kind === 4) mutated = xml.slice(0, at) + xml[markup[pick(markup.length)]] + xml.slice(at + 1);
    else if (kind === 5) mutated = xml.slice(0, at);
    else {
      // Mismatched tags: one letter of an end tag's name changed.
      const ends = [...xml.matchAll(/<\/(\w)/g)];
      const end = ends[pick(ends.length)].index! + 2;
      mutated = xml.slice(0, end) + (xml[end] === 'Z' ? 'Y' : 'Z') + xml.slice(end + 1);
    }
    if (mutated !== xml) cases.push(mutated);
  }
  return cases;
}

/** Names of the files xmllint reports a parser (well-formedness) error for; namespace errors do not count, as in xmllint's exit code. */
function rejectedByXmllint(files: string[]): Set<string> {
  const { output } = run('xmllint', ['--noout', '--nonet', ...files]);
  const rejected = new Set<string>();
  for (const line of output.split('\n')) {
    const match = /^(.+?):\d+: parser error :/.exec(line);
    if (match) rejected.add(match[1]);
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
