/**
 * Package metadata that npm, the n8n community-node listing and Node-RED's flow library show: repository, homepage and
 * bugs entries, and every documentation link of the nodes pointing at this package's README (an existing heading).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { KsefApi } from '../../credentials/KsefApi.credentials';
import { Ksef } from '../../nodes/n8n/Ksef/Ksef.node';
import { KsefTrigger } from '../../nodes/n8n/KsefTrigger/KsefTrigger.node';

const ROOT = path.resolve(__dirname, '..', '..');
const REPOSITORY = 'https://github.com/ksef-flow/n8n-nodes-ksef';
const README_URL = `${REPOSITORY}#readme`;
const NODE_RED_TYPES = ['ksef-config', 'ksef-send', 'ksef-auth', 'ksef-token', 'ksef-certificate'];
const LANGUAGES = ['en-US', 'pl'];

const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as Record<string, any>;

/** GitHub's anchors for the README's headings (lower case, punctuation dropped, spaces to dashes). */
function readmeAnchors(): Set<string> {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const anchors = new Set(['readme']);
  for (const [, heading] of readme.matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    anchors.add(
      heading
        .toLowerCase()
        .replace(/`/g, '')
        .replace(/[^\p{L}\p{N}\s_-]/gu, '')
        .replace(/\s/g, '-'),
    );
  }
  return anchors;
}

/** Fails unless the link is this package's README: `#readme` or the anchor of one of its headings. */
function expectReadmeLink(url: string, where: string): void {
  const [base, anchor] = url.split('#');
  expect({ where, base }).toEqual({ where, base: REPOSITORY });
  expect({ where, anchor, exists: readmeAnchors().has(anchor ?? '') }).toEqual({ where, anchor, exists: true });
}

describe('package.json metadata', () => {
  it('names the Git repository, the homepage (the README) and where to report bugs', () => {
    expect(pkg.repository).toEqual({ type: 'git', url: `git+${REPOSITORY}.git` });
    expect(pkg.homepage).toBe(README_URL);
    const bugs = typeof pkg.bugs === 'string' ? pkg.bugs : pkg.bugs?.url;
    expect(bugs).toBe(`${REPOSITORY}/issues`);
  });
});

describe('documentation links of the nodes', () => {
  it('the n8n credential links to the README', () => {
    expectReadmeLink(new KsefApi().documentationUrl, 'KsefApi.documentationUrl');
  });

  it.each([
    ['Ksef', new Ksef()],
    ['KsefTrigger', new KsefTrigger()],
  ])("the n8n node %s's codex and description link to the README only", (name, node) => {
    const codex = JSON.parse(fs.readFileSync(path.join(ROOT, 'nodes', 'n8n', name, `${name}.node.json`), 'utf8')) as {
      resources?: Record<string, Array<{ url: string }>>;
    };
    const urls = Object.entries(codex.resources ?? {}).flatMap(([kind, links]) => links.map((link) => ({ kind, url: link.url })));
    expect(urls.map((link) => link.kind)).toEqual(expect.arrayContaining(['primaryDocumentation', 'credentialDocumentation']));
    for (const { kind, url } of urls) expectReadmeLink(url, `${name}.node.json ${kind}`);
    const description = node.description as unknown as { documentationUrl?: string };
    if (description.documentationUrl !== undefined) expectReadmeLink(description.documentationUrl, `${name} description.documentationUrl`);
  });

  it.each(LANGUAGES.flatMap((language) => NODE_RED_TYPES.map((type) => [language, type])))(
    "the Node-RED help (%s) of %s links to the README, and any link into this repository is the README's",
    (language, type) => {
      const help = fs.readFileSync(path.join(ROOT, 'nodes', 'node-red', 'locales', language, `${type}.html`), 'utf8');
      const links = [...help.matchAll(/href="([^"]+)"/g)].map((match) => match[1]);
      const ours = links.filter((url) => url.startsWith('https://github.com/ksef-flow/'));
      expect(ours.length).toBeGreaterThan(0);
      for (const url of ours) expectReadmeLink(url, `${language}/${type}.html`);
    },
  );
});
