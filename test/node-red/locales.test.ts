/**
 * The editor files and catalogues the test helper never reads: every i18n key the editor uses exists, en-US and pl
 * have the same keys, statuses stay short, and the help has its structured sections.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

const NODES_DIR = path.resolve(__dirname, '..', '..', 'nodes', 'node-red');
const NODES = ['ksef-config', 'ksef-send'];
const LANGUAGES = ['en-US', 'pl'];

type Catalogue = Record<string, unknown>;

function catalogue(language: string, node: string): Catalogue {
  return JSON.parse(fs.readFileSync(path.join(NODES_DIR, 'locales', language, `${node}.json`), 'utf8'));
}

function lookup(messages: Catalogue, key: string): unknown {
  return key.split('.').reduce<unknown>((value, part) => (value as Catalogue | undefined)?.[part], messages);
}

function keysOf(messages: Catalogue, prefix = ''): string[] {
  return Object.entries(messages)
    .flatMap(([key, value]) => (typeof value === 'object' && value !== null ? keysOf(value as Catalogue, `${prefix}${key}.`) : [`${prefix}${key}`]))
    .sort();
}

describe.each(NODES)('%s locales', (node) => {
  it('has the same keys in en-US and pl', () => {
    expect(keysOf(catalogue('pl', node))).toEqual(keysOf(catalogue('en-US', node)));
  });

  it('defines every key the editor file uses', () => {
    const html = fs.readFileSync(path.join(NODES_DIR, `${node}.html`), 'utf8');
    const attributeKeys = [...html.matchAll(/data-i18n="(?:\[\w+\])?([\w.-]+)"/g)].map((m) => m[1]);
    const scriptKeys = [...html.matchAll(/_\('([\w.-]+)'\)/g)].map((m) => m[1]);
    const used = [...attributeKeys, ...scriptKeys];

    expect(used.length).toBeGreaterThan(5);
    for (const language of LANGUAGES) {
      const missing = used.filter((key) => typeof lookup(catalogue(language, node), key) !== 'string');
      expect({ language, missing }).toEqual({ language, missing: [] });
    }
  });

  it.each(LANGUAGES)('has structured help in %s', (language) => {
    const help = fs.readFileSync(path.join(NODES_DIR, 'locales', language, `${node}.html`), 'utf8');

    expect(help).toContain(`data-help-name="${node}"`);
    expect(help.match(/<h3>/g)?.length).toBeGreaterThanOrEqual(2);
  });
});

it.each(LANGUAGES)('keeps ksef-send statuses under 20 characters in %s', (language) => {
  const statuses = lookup(catalogue(language, 'ksef-send'), 'ksef-send.status') as Record<string, string>;

  expect(Object.keys(statuses).sort()).toEqual(['accepted', 'bad-input', 'failed', 'no-config', 'pending', 'rejected', 'sending']);
  for (const text of Object.values(statuses)) {
    expect(text.replace('__count__', '9999').length).toBeLessThan(20);
  }
});

it('has the en-US help sections Inputs, Outputs, Details and References for ksef-send', () => {
  const help = fs.readFileSync(path.join(NODES_DIR, 'locales', 'en-US', 'ksef-send.html'), 'utf8');

  expect([...help.matchAll(/<h3>(\w+)<\/h3>/g)].map((m) => m[1])).toEqual(['Inputs', 'Outputs', 'Details', 'References']);
});
