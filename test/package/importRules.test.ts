/**
 * The import rules of eslint.config.mjs really fail a wrong arrow: in-memory files placed in each layer import across
 * it. ESLint runs in a child Node process because it loads its ESM config with a dynamic import, which Jest's module
 * sandbox does not provide.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');

interface Case {
  file: string;
  code: string;
}

/** The `ksef/layers` messages ESLint reports for each in-memory file. */
function layerMessages(cases: Case[]): string[][] {
  const script = `
    const { ESLint } = require('eslint');
    const cases = JSON.parse(process.argv[1]);
    (async () => {
      const eslint = new ESLint({ cwd: process.cwd() });
      const out = [];
      for (const { file, code } of cases) {
        const [result] = await eslint.lintText(code, { filePath: file });
        out.push(result.messages.filter((m) => m.ruleId === 'ksef/layers').map((m) => m.message));
      }
      process.stdout.write(JSON.stringify(out));
    })().catch((error) => { console.error(error); process.exit(2); });`;
  const run = spawnSync(process.execPath, ['-e', script, JSON.stringify(cases)], { cwd: ROOT, encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`ESLint failed: ${run.stderr}`);
  return JSON.parse(run.stdout) as string[][];
}

const wrong: [string, Case][] = [
  [
    'the engine imports the sandbox',
    { file: 'shared/x.ts', code: "import { embeddedSandbox } from '../sandbox/index';\nexport const x = embeddedSandbox;\n" },
  ],
  ['the sandbox imports an engine error', { file: 'sandbox/x.ts', code: "export { KsefRateLimitError } from '../shared/http/errors';\n" }],
  [
    'the sandbox imports the engine surface',
    { file: 'sandbox/routes/x.ts', code: "import type { KsefClient } from '../../shared';\nexport type X = KsefClient;\n" },
  ],
  [
    'the protocol layer imports the engine',
    {
      file: 'shared/protocol/xml/x.ts',
      code: "import type { KsefClientOptions } from '../../types';\nexport type X = KsefClientOptions;\n",
    },
  ],
  [
    'an n8n node imports engine internals',
    { file: 'nodes/n8n/Ksef/x.ts', code: "export { createKsefClient } from '../../../shared/client';\n" },
  ],
  [
    'the n8n credential imports the protocol layer',
    { file: 'credentials/x.ts', code: "export { isValidNip } from '../shared/protocol/model/nip';\n" },
  ],
  ['a Node-RED node imports the n8n node', { file: 'nodes/node-red/x.ts', code: "export const x = require('../n8n/Ksef/Ksef.node');\n" }],
  ['an n8n node imports a Node-RED node', { file: 'nodes/n8n/x.ts', code: "export const x = import('../node-red/ksef-config');\n" }],
  [
    'the engine imports a Node-RED node',
    { file: 'shared/sessions/x.ts', code: "import node = require('../../nodes/node-red/ksef-send');\nexport = node;\n" },
  ],
];

const right: [string, Case][] = [
  ['the engine imports the protocol layer', { file: 'shared/x.ts', code: "export { crc8Hex } from './protocol/model/crc8';\n" }],
  ['the sandbox imports the protocol layer', { file: 'sandbox/x.ts', code: "export type { Clock } from '../shared/protocol/types';\n" }],
  [
    'a Node-RED node imports the engine surface and the sandbox entry',
    { file: 'nodes/node-red/x.ts', code: "export { createKsefClient } from '../../shared';\nexport * from '../../sandbox/index';\n" },
  ],
  [
    'a test imports anything',
    { file: 'test/x.test.ts', code: "export { createKsefClient } from '../shared/client';\nexport * from '../sandbox/state';\n" },
  ],
];

test('a wrong arrow fails the lint, naming both layers', () => {
  const messages = layerMessages(wrong.map(([, c]) => c));
  wrong.forEach(([what], i) => expect({ what, messages: messages[i] }).toEqual({ what, messages: [expect.any(String)] }));
  expect(messages[0][0]).toBe(
    'engine (shared/x.ts) may not import sandbox entry (sandbox/index.ts): engine imports only engine surface, engine, protocol.',
  );
});

test('the arrows the layers allow pass', () => {
  const messages = layerMessages(right.map(([, c]) => c));
  right.forEach(([what], i) => expect({ what, messages: messages[i] }).toEqual({ what, messages: [] }));
});
