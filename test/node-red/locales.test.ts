/**
 * The editor files and catalogues the test helper never reads: every i18n key the editor uses exists, en-US and pl
 * have the same keys, statuses stay short, and the help has its structured sections.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { KSEF_TOKEN_PERMISSIONS } from '../../shared';
import type { KsefTokenStatus } from '../../shared/types';

const NODES_DIR = path.resolve(__dirname, '..', '..', 'nodes', 'node-red');
const NODES = ['ksef-config', 'ksef-send', 'ksef-auth', 'ksef-token', 'ksef-certificate', 'ksef-invoice', 'ksef-sync'];
/** The nodes that run one of several operations (nodes/node-red/base/operationNode.ts). */
const OPERATION_NODES = ['ksef-auth', 'ksef-token', 'ksef-certificate', 'ksef-invoice'];
const LANGUAGES = ['en-US', 'pl'];
const TOKEN_STATUSES: KsefTokenStatus[] = ['Pending', 'Active', 'Revoking', 'Revoked', 'Failed'];

/**
 * Keys the editor builds as `_('<prefix>' + value)` or `fillSelect('#id', NAME, '<prefix>', ...)`, with the array of
 * values (a `var NAME = [...]` in the editor file) each prefix is used with.
 */
const DYNAMIC_KEYS: Record<string, Record<string, string>> = {
  'ksef-config': {
    'ksef-config.environment.': 'ENVIRONMENTS',
    'ksef-config.contextType.': 'CONTEXT_TYPES',
    'ksef-config.authMethod.': 'AUTH_METHODS',
    'ksef-config.certificateFormat.': 'CERTIFICATE_FORMATS',
    'ksef-config.subjectIdentifierType.': 'SUBJECT_IDENTIFIER_TYPES',
  },
  'ksef-send': { 'ksef-send.mode.': 'MODES', 'ksef-send.compressionType.': 'COMPRESSION_TYPES' },
  'ksef-auth': { 'ksef-auth.operation.': 'OPERATIONS', 'ksef-auth.tip.': 'OPERATIONS', 'ksef-auth.nodeLabel.': 'OPERATIONS' },
  'ksef-token': {
    'ksef-token.operation.': 'OPERATIONS',
    'ksef-token.tip.': 'OPERATIONS',
    'ksef-token.nodeLabel.': 'OPERATIONS',
    'ksef-token.permission.': 'PERMISSIONS',
  },
  'ksef-certificate': {
    'ksef-certificate.operation.': 'OPERATIONS',
    'ksef-certificate.tip.': 'OPERATIONS',
    'ksef-certificate.nodeLabel.': 'OPERATIONS',
    'ksef-certificate.certificateType.': 'CERTIFICATE_TYPES',
    'ksef-certificate.keyType.': 'KEY_TYPES',
    'ksef-certificate.revocationReason.': 'REVOCATION_REASONS',
    'ksef-certificate.subjectKind.': 'SUBJECT_KINDS',
  },
  'ksef-invoice': {
    'ksef-invoice.operation.': 'OPERATIONS',
    'ksef-invoice.tip.': 'OPERATIONS',
    'ksef-invoice.nodeLabel.': 'OPERATIONS',
    'ksef-invoice.subjectType.': 'SUBJECT_TYPES',
    'ksef-invoice.dateType.': 'DATE_TYPES',
    'ksef-invoice.output.': 'OUTPUTS',
  },
  'ksef-sync': {
    'ksef-sync.subjectType.': 'SUBJECT_TYPES',
    'ksef-sync.startFrom.': 'START_POINTS',
    'ksef-sync.output.': 'OUTPUTS',
  },
};

type Catalogue = Record<string, unknown>;

function catalogue(language: string, node: string): Catalogue {
  return JSON.parse(fs.readFileSync(path.join(NODES_DIR, 'locales', language, `${node}.json`), 'utf8'));
}

function editorFile(node: string): string {
  return fs.readFileSync(path.join(NODES_DIR, `${node}.html`), 'utf8');
}

/** The values of `var NAME = [...]` in an editor file. */
function editorArray(html: string, name: string): string[] {
  const match = new RegExp(`var ${name} = \\[([^\\]]*)\\]`).exec(html);
  if (!match) throw new Error(`no var ${name} = [...] in the editor file`);
  return [...match[1].matchAll(/'([^']+)'/g)].map((m) => m[1]);
}

function lookup(messages: Catalogue, key: string): unknown {
  return key.split('.').reduce<unknown>((value, part) => (value as Catalogue | undefined)?.[part], messages);
}

function keysOf(messages: Catalogue, prefix = ''): string[] {
  return Object.entries(messages)
    .flatMap(([key, value]) =>
      typeof value === 'object' && value !== null ? keysOf(value as Catalogue, `${prefix}${key}.`) : [`${prefix}${key}`],
    )
    .sort();
}

describe.each(NODES)('%s locales', (node) => {
  it('has the same keys in en-US and pl', () => {
    expect(keysOf(catalogue('pl', node))).toEqual(keysOf(catalogue('en-US', node)));
  });

  it('defines every key the editor file uses', () => {
    const html = editorFile(node);
    const attributeKeys = [...html.matchAll(/data-i18n="(?:\[\w+\])?([\w.-]+)"/g)].map((m) => m[1]);
    const scriptKeys = [...html.matchAll(/_\('([\w.-]+)'\)/g)].map((m) => m[1]);
    const used = [...attributeKeys, ...scriptKeys];

    expect(used.length).toBeGreaterThan(5);
    for (const language of LANGUAGES) {
      const missing = used.filter((key) => typeof lookup(catalogue(language, node), key) !== 'string');
      expect({ language, missing }).toEqual({ language, missing: [] });
    }
  });

  it('defines every key the editor builds from a list of values', () => {
    const html = editorFile(node);
    const prefixes = [
      ...[...html.matchAll(/_\('([\w.-]+\.)' \+/g)].map((m) => m[1]),
      // fillSelect('#id', VALUES, '<prefix>', selected)
      ...[...html.matchAll(/fillSelect\(\s*'#[\w-]+',\s*\w+,\s*'([\w.-]+\.)'/g)].map((m) => m[1]),
    ];
    const dynamic = DYNAMIC_KEYS[node];

    expect([...new Set(prefixes)].sort()).toEqual(Object.keys(dynamic).sort());
    for (const language of LANGUAGES) {
      const missing = Object.entries(dynamic)
        .flatMap(([prefix, array]) => editorArray(html, array).map((value) => prefix + value))
        .filter((key) => typeof lookup(catalogue(language, node), key) !== 'string');
      expect({ language, missing }).toEqual({ language, missing: [] });
    }
  });

  it.each(LANGUAGES)('has structured help in %s', (language) => {
    const help = fs.readFileSync(path.join(NODES_DIR, 'locales', language, `${node}.html`), 'utf8');

    expect(help).toContain(`data-help-name="${node}"`);
    expect(help.match(/<h3>/g)?.length).toBeGreaterThanOrEqual(2);
  });
});

it.each(LANGUAGES)('keeps ksef-send statuses under 20 characters in %s, batch progress under 25', (language) => {
  const statuses = lookup(catalogue(language, 'ksef-send'), 'ksef-send.status') as Record<string, string>;
  // A batch's progress as ksef-send fills it in at 5,000 invoices: "processing 1,200/5,000" (issue 10's words).
  const separator = lookup(catalogue(language, 'ksef-send'), 'ksef-send.numberGroupSeparator') as string;
  const progress: Record<string, Record<string, string>> = {
    packing: { count: `5${separator}000` },
    uploading: { part: '13', parts: '50' },
    processing: { done: `1${separator}200`, total: `5${separator}000` },
    session: { session: '2', sessions: '3' },
  };

  expect(Object.keys(statuses).sort()).toEqual([
    'accepted',
    'bad-input',
    'bad-mode',
    'failed',
    'no-config',
    'not-sent',
    'packing',
    'pending',
    'processing',
    'rejected',
    'sandbox',
    'sending',
    'session',
    'uploading',
  ]);
  expect(separator).toMatch(/^\D$/u);
  for (const [key, text] of Object.entries(statuses)) {
    const values = progress[key];
    const shown = values ? text.replace(/__(\w+)__/g, (_, name: string) => values[name]) : text.replace('__count__', '9999');
    expect({ key, shown, short: shown.length < (values ? 25 : 20) }).toEqual({ key, shown, short: true });
  }
});

it.each(LANGUAGES)('names the nodes on the canvas with one pattern in %s: "KSeF send", "KSeF token: generate"', (language) => {
  for (const node of ['ksef-send', 'ksef-sync']) {
    expect(lookup(catalogue(language, node), `${node}.nodeLabel`)).toMatch(/^KSeF [^:]+$/);
    expect(editorFile(node)).toContain(`return this.name || this._('${node}.nodeLabel');`);
  }
  for (const node of OPERATION_NODES) {
    const labels = Object.values(lookup(catalogue(language, node), `${node}.nodeLabel`) as Record<string, string>);
    const nodeNames = new Set(labels.map((label) => label.split(': ')[0]));

    expect({ node, odd: labels.filter((label) => !/^KSeF [^:]+: \S.*$/.test(label) || label.length > 40) }).toEqual({ node, odd: [] });
    expect({ node, nodeNames: nodeNames.size }).toEqual({ node, nodeNames: 1 });
    expect(editorFile(node)).toContain(`return this.name || this._('${node}.nodeLabel.' + (this.operation || `);
  }
});

it.each(['ksef-send', 'ksef-sync'])('has the en-US help sections Inputs, Outputs, Details and References for %s', (node) => {
  const help = fs.readFileSync(path.join(NODES_DIR, 'locales', 'en-US', `${node}.html`), 'utf8');

  expect([...help.matchAll(/<h3>(\w+)<\/h3>/g)].map((m) => m[1])).toEqual(['Inputs', 'Outputs', 'Details', 'References']);
});

it.each(LANGUAGES)('has every key of the source node base for ksef-sync in %s, statuses under 20 characters', (language) => {
  const messages = catalogue(language, 'ksef-sync');
  const statuses = lookup(messages, 'ksef-sync.status') as Record<string, string>;

  // base/inputNode.ts's and base/sourceNode.ts's keys.
  expect(Object.keys(statuses).sort()).toEqual(['bad-input', 'failed', 'fetching', 'no-config', 'sent', 'up-to-date', 'waiting']);
  expect(typeof lookup(messages, 'ksef-sync.warnings.still-fetching')).toBe('string');
  for (const text of Object.values(statuses)) {
    expect(text.replace('__count__', '9999').replace('__time__', '12:45').length).toBeLessThan(20);
  }
});

describe.each(OPERATION_NODES)('%s', (node) => {
  it.each(LANGUAGES)('keeps statuses under 20 characters in %s', (language) => {
    const statuses = lookup(catalogue(language, node), `${node}.status`) as Record<string, string>;

    // What base/inputNode.ts shows besides each operation's own statuses.
    expect(Object.keys(statuses)).toEqual(expect.arrayContaining(['failed', 'bad-input', 'no-config']));
    for (const text of Object.values(statuses)) {
      expect(text.replace('__count__', '9999').length).toBeLessThan(20);
    }
  });

  it('offers in the editor exactly the operations the runtime has', () => {
    const runtime = fs.readFileSync(path.join(NODES_DIR, `${node}.ts`), 'utf8');
    const runtimeOperations = [...runtime.matchAll(/^ {4,6}(\w+): \{\n\s+running: /gm)].map((m) => m[1]);

    expect(editorArray(editorFile(node), 'OPERATIONS')).toEqual(runtimeOperations);
  });

  it('has the en-US help sections Inputs, Outputs, Details and References', () => {
    const help = fs.readFileSync(path.join(NODES_DIR, 'locales', 'en-US', `${node}.html`), 'utf8');

    expect([...help.matchAll(/<h3>(\w+)<\/h3>/g)].map((m) => m[1])).toEqual(['Inputs', 'Outputs', 'Details', 'References']);
  });
});

it("offers the engine's KSeF token permissions and names every token status", () => {
  expect(editorArray(editorFile('ksef-token'), 'PERMISSIONS').sort()).toEqual([...KSEF_TOKEN_PERMISSIONS].sort());
  for (const language of LANGUAGES) {
    const statuses = lookup(catalogue(language, 'ksef-token'), 'ksef-token.status') as Record<string, string>;
    expect(TOKEN_STATUSES.filter((status) => typeof statuses[`token-${status}`] !== 'string')).toEqual([]);
  }
});
