/** Our canonicalizer against libxml2's (`xmllint --c14n/--c14n11/--exc-c14n`), which is independent of it. */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { canonicalize } from '../../shared/protocol/xml/c14n';
import { parseXml } from '../../shared/protocol/xml/xmlDom';

const TRICKY_DOCUMENT = `<?xml version="1.0" encoding="utf-8"?>
<!-- head -->
<?pi  some data ?>
<r:Root xmlns:r="urn:r" xmlns="urn:default" xmlns:unused="urn:unused" b="2" a="1&#9;x&#xA;" r:z="q" xml:lang="pl">
  <Child attr='"quoted" &amp; &lt;'>Text &amp; &lt; &gt; &#xD; ok<![CDATA[ <cdata> & ]]> zażółć</Child>
  <n:Other xmlns:n="urn:n" xmlns="" n:a="1" c="3"><Inner xmlns="urn:inner"/><!-- inner --></n:Other>
  <Empty></Empty>
</r:Root>
<!-- tail -->
`;

const AUTH_LIKE_DOCUMENT = `<?xml version="1.0" encoding="utf-8"?>
<AuthTokenRequest xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns="http://ksef.mf.gov.pl/auth/token/2.0">
  <Challenge>20250604-CR-461EA5B000-537A6BA15D-D7</Challenge>
  <ContextIdentifier>
    <Nip>5265877635</Nip>
  </ContextIdentifier>
</AuthTokenRequest>`;

function xmllint(flag: string, xml: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'c14n-'));
  try {
    const file = path.join(dir, 'doc.xml');
    fs.writeFileSync(file, xml);
    return execFileSync('xmllint', [flag, file], { encoding: 'utf8' });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe.each([
  ['--c14n', 'c14n'],
  ['--c14n11', 'c14n11'],
  ['--exc-c14n', 'exc-c14n'],
] as const)('canonicalize(document) with %s semantics', (flag, method) => {
  it.each([
    ['a document with comments, PIs, CDATA, namespace redeclarations', TRICKY_DOCUMENT],
    ['an AuthTokenRequest-like document', AUTH_LIKE_DOCUMENT],
  ])('matches xmllint for %s', (_name, xml) => {
    const ours = canonicalize(parseXml(xml), { method, withComments: true }).toString('utf8');
    expect(ours).toBe(xmllint(flag, xml));
  });
});

describe('canonicalize(element subset)', () => {
  const document = parseXml(TRICKY_DOCUMENT);
  const other = document.getElementsByTagNameNS('urn:n', 'Other')[0];
  const child = document.getElementsByTagNameNS('urn:default', 'Child')[0];

  it('inclusive C14N renders every namespace in scope and inherits xml:lang', () => {
    expect(canonicalize(child, { method: 'c14n' }).toString()).toBe(
      '<Child xmlns="urn:default" xmlns:r="urn:r" xmlns:unused="urn:unused" attr="&quot;quoted&quot; &amp; &lt;" xml:lang="pl">' +
        'Text &amp; &lt; &gt; &#xD; ok &lt;cdata&gt; &amp;  zażółć</Child>',
    );
  });

  it('exclusive C14N renders only visibly used namespaces (plus the InclusiveNamespaces list)', () => {
    expect(canonicalize(other, { method: 'exc-c14n' }).toString()).toBe(
      '<n:Other xmlns:n="urn:n" c="3" n:a="1"><Inner xmlns="urn:inner"></Inner></n:Other>',
    );
    expect(canonicalize(other, { method: 'exc-c14n', inclusivePrefixes: ['r'] }).toString()).toBe(
      '<n:Other xmlns:n="urn:n" xmlns:r="urn:r" c="3" n:a="1"><Inner xmlns="urn:inner"></Inner></n:Other>',
    );
  });

  it('leaves excluded subtrees out', () => {
    const inner = document.getElementsByTagNameNS('urn:inner', 'Inner')[0];
    expect(canonicalize(other, { method: 'exc-c14n', excluded: new Set([inner]) }).toString()).toBe(
      '<n:Other xmlns:n="urn:n" c="3" n:a="1"></n:Other>',
    );
  });
});
