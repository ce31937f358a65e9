/**
 * What makes an answer the UPO asked for (`upoMismatch`): the official examples of faktury/upo/przyklady/v4-3
 * (CIRFMF/ksef-docs) pass for their session and invoice, anything else is refused with the reason; a session UPO of
 * 10,000 documents is checked to its end.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { upoMismatch, readUpoDocuments } from '../../shared/protocol/xml/upo';
import { findSpecFolder } from '../../shared/protocol/spec/specFolder';

const examples = join(findSpecFolder()!, 'ksef-docs', 'faktury', 'upo', 'przyklady', 'v4-3', 'kontekst-nip');
const sessionUpo = readFileSync(join(examples, 'upo-sesja-kontekst-id-nip.xml'), 'utf8');
const invoiceUpo = readFileSync(join(examples, 'upo-faktura-kontekst-id-nip.xml'), 'utf8');
const sessionOf = (xml: string) => /<NumerReferencyjnySesji>([^<]+)</.exec(xml)![1];

describe('upoMismatch', () => {
  it("takes the official session and invoice UPOs for their own session and invoice, and names another's", () => {
    const session = sessionOf(sessionUpo);
    expect(upoMismatch(sessionUpo, { sessionReferenceNumber: session })).toBeUndefined();
    expect(upoMismatch(sessionUpo, { sessionReferenceNumber: 'another' })).toBe(`it is the UPO of session ${session}`);
    const [document] = readUpoDocuments(invoiceUpo);
    expect(upoMismatch(invoiceUpo, { ksefNumber: document.ksefNumber, invoiceHash: 'x' })).toBeUndefined();
    expect(upoMismatch(invoiceUpo, { ksefNumber: 'x', invoiceHash: document.invoiceHash! })).toBeUndefined();
    expect(upoMismatch(invoiceUpo, { ksefNumber: 'x', invoiceHash: 'y' })).toBe(
      'it does not confirm this invoice (neither its KSeF number nor its hash)',
    );
  });

  it('reads the session reference through a prefix, references and CDATA, as XML means it', () => {
    const prefixed = sessionUpo
      .replace('<Potwierdzenie xmlns=', '<u:Potwierdzenie xmlns:u=')
      .replace('</Potwierdzenie>', '</u:Potwierdzenie>')
      .replace(/<(\/?)(NumerReferencyjnySesji)>/g, '<$1u:$2>');
    const session = sessionOf(sessionUpo);
    expect(
      upoMismatch(
        prefixed.replace(
          `>${session}<`,
          `> ${session.slice(0, 4)}<![CDATA[${session.slice(4, 8)}]]>&#x${session.charCodeAt(8).toString(16)};${session.slice(9)}\n<`,
        ),
        { sessionReferenceNumber: session },
      ),
    ).toBeUndefined();
  });

  it('refuses what is not a UPO, naming why', () => {
    const session = { sessionReferenceNumber: sessionOf(sessionUpo) };
    expect(upoMismatch('<html><body>Service unavailable</body></html>', session)).toBe(
      "the root element is html, not a UPO's Potwierdzenie",
    );
    expect(upoMismatch(sessionUpo.replace('http://upo.schematy.mf.gov.pl/KSeF/v4-3', 'urn:other'), session)).toBe(
      "the root element is Potwierdzenie in urn:other, not a UPO's Potwierdzenie",
    );
    // Cut off in the middle (a download that ended early): not the whole UPO.
    expect(upoMismatch(sessionUpo.slice(0, Math.floor(sessionUpo.length * 0.7)), session)).toBe('not well-formed XML');
    expect(upoMismatch(sessionUpo.replace('</Dokument>', '</Dokumnet>'), session)).toBe('not well-formed XML');
    expect(upoMismatch(sessionUpo.replace('<Strona>1', '<Strona>&nbsp;1'), session)).toBe('not well-formed XML');
    expect(upoMismatch('', session)).toBe('not well-formed XML');
  });

  it('checks a session UPO of 10,000 documents to its end', () => {
    const [, head, document, tail] = /^([\s\S]*?)(<Dokument>[\s\S]*?<\/Dokument>)[\s\S]*(<\/Potwierdzenie>\s*)$/.exec(sessionUpo)!;
    const large = head + document.repeat(10_000) + tail;
    expect(large.length).toBeGreaterThan(4_000_000);
    const session = { sessionReferenceNumber: sessionOf(sessionUpo) };
    expect(upoMismatch(large, session)).toBeUndefined();
    // A fault in the last document, past everything a check of the root alone would read.
    const last = large.lastIndexOf('</Dokument>');
    expect(upoMismatch(`${large.slice(0, last)}</Dokumnet>${large.slice(last + 11)}`, session)).toBe('not well-formed XML');
    expect(upoMismatch(large.slice(0, -20), session)).toBe('not well-formed XML');
  });
});
