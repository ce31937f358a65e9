// ESLint flat config (https://eslint.org/docs/latest/use/configure/configuration-files) with typescript-eslint
// (https://typescript-eslint.io/getting-started) and the project's import rules: three layers, arrows one way.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import js from '@eslint/js';
import n8nNodesBase from 'eslint-plugin-n8n-nodes-base';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const root = path.dirname(fileURLToPath(import.meta.url));

/**
 * The layers, first match wins: a folder (ending in `/`) or one file, relative to the repository root. Tests, bench
 * and scripts belong to none and may import anything.
 */
const LAYERS = [
  ['protocol', 'shared/protocol/'],
  ['engine surface', 'shared/index.ts'],
  ['engine', 'shared/'],
  ['sandbox entry', 'sandbox/index.ts'],
  ['sandbox', 'sandbox/'],
  ['n8n', 'nodes/n8n/'],
  ['n8n', 'credentials/'],
  ['Node-RED', 'nodes/node-red/'],
];

/**
 * What each layer may import. The protocol layer (KSeF model, XML, crypto, X.509, spec folder) stands alone; the
 * engine and the sandbox build on it and never on each other; adapters reach the engine only through its public
 * surface and the sandbox only through its entry (to hand the embedded sandbox in), and never the other host.
 */
const ALLOWED = {
  protocol: ['protocol'],
  'engine surface': ['engine surface', 'engine', 'protocol'],
  engine: ['engine surface', 'engine', 'protocol'],
  'sandbox entry': ['sandbox entry', 'sandbox', 'protocol'],
  sandbox: ['sandbox entry', 'sandbox', 'protocol'],
  n8n: ['n8n', 'engine surface', 'sandbox entry'],
  'Node-RED': ['Node-RED', 'engine surface', 'sandbox entry'],
};

function layerOf(file) {
  return LAYERS.find(([, prefix]) => (prefix.endsWith('/') ? file.startsWith(prefix) : file === prefix))?.[0];
}

/** The repository-relative file a relative specifier names, as Node16 resolution with TypeScript sources finds it. */
function resolveSpecifier(fromFile, specifier) {
  const base = path.resolve(root, path.dirname(fromFile), specifier);
  const found = [`${base}.ts`, `${base}.js`, path.join(base, 'index.ts'), path.join(base, 'index.js'), base].find(
    (candidate) => fs.existsSync(candidate) && fs.statSync(candidate).isFile(),
  );
  return path
    .relative(root, found ?? `${base}.ts`)
    .split(path.sep)
    .join('/');
}

const layersRule = {
  meta: {
    type: 'problem',
    docs: { description: 'Imports follow the layers: protocol <- engine, protocol <- sandbox, engine surface <- adapters' },
    schema: [],
    messages: { wrongArrow: '{{from}} ({{file}}) may not import {{to}} ({{target}}): {{from}} imports only {{allowed}}.' },
  },
  create(context) {
    const file = path.relative(root, context.filename).split(path.sep).join('/');
    const from = layerOf(file);
    if (!from) return {};
    const check = (node) => {
      if (!node || node.type !== 'Literal' || typeof node.value !== 'string' || !node.value.startsWith('.')) return;
      const target = resolveSpecifier(file, node.value);
      const to = layerOf(target) ?? 'outside the layers';
      if (ALLOWED[from].includes(to)) return;
      context.report({ node, messageId: 'wrongArrow', data: { from, file, to, target, allowed: ALLOWED[from].join(', ') } });
    };
    return {
      ImportDeclaration: (node) => check(node.source),
      ExportNamedDeclaration: (node) => check(node.source),
      ExportAllDeclaration: (node) => check(node.source),
      ImportExpression: (node) => check(node.source),
      CallExpression: (node) => {
        if (node.callee.type === 'Identifier' && node.callee.name === 'require') check(node.arguments[0]);
      },
      TSImportEqualsDeclaration: (node) => {
        if (node.moduleReference.type === 'TSExternalModuleReference') check(node.moduleReference.expression);
      },
    };
  },
};

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', '.tmp/', 'coverage/', 'bench/results/'] },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    plugins: { ksef: { rules: { layers: layersRule } } },
    rules: {
      'ksef/layers': 'error',
      // `const { secret, ...rest } = value` is how the code leaves a field out of a copy.
      '@typescript-eslint/no-unused-vars': ['error', { ignoreRestSiblings: true }],
    },
  },
  {
    // Build, bench and Jest config scripts are plain CommonJS run by Node: a module-level `const crypto =
    // require('node:crypto')` shadows Node's global `crypto` inside the module's own scope, which is fine.
    files: ['**/*.js'],
    languageOptions: { sourceType: 'commonjs', globals: globals.node },
    rules: { '@typescript-eslint/no-require-imports': 'off', 'no-redeclare': ['error', { builtinGlobals: false }] },
  },
  {
    // A Node-RED node constructor keeps `this` as `node` for its callbacks, as Node-RED's own guide does
    // (https://nodered.org/docs/creating-nodes/first-node).
    files: ['nodes/node-red/**/*.ts'],
    rules: { '@typescript-eslint/no-this-alias': 'off' },
  },
  // n8n's community-node rules, laid out as n8n's node starter does (n8n-io/n8n-nodes-starter): `community` on
  // package.json, `nodes` on the nodes, `credentials` on the credentials. The plugin ships eslintrc configs; their
  // rule sets are used as they are.
  {
    files: ['package.json'],
    languageOptions: { parser: tseslint.parser },
    plugins: { 'n8n-nodes-base': n8nNodesBase },
    rules: {
      ...n8nNodesBase.configs.community.rules,
      // The TypeScript parser reads package.json as one object expression, which is what the community rules inspect.
      '@typescript-eslint/no-unused-expressions': 'off',
    },
  },
  {
    files: ['nodes/n8n/**/*.ts'],
    plugins: { 'n8n-nodes-base': n8nNodesBase },
    rules: {
      ...n8nNodesBase.configs.nodes.rules,
      // Sentence case lowercases the system's name (its fix writes "k se f token"); n8n's starter leaves this rule off too.
      'n8n-nodes-base/node-param-operation-option-action-miscased': 'off',
      // It flags n8n's own expression syntax in examples (`{{ $json.xml }}`); its fix, `$JSON`, breaks them.
      'n8n-nodes-base/node-param-description-miscased-json': 'off',
      // NodeConnectionTypes.Main is the value 'main' the rule asks for, written as n8n's own nodes write it.
      'n8n-nodes-base/node-class-description-outputs-wrong': 'off',
    },
  },
  {
    // The description lives beside the router as in n8n's Airtable v2 node (actions/versionDescription.ts), not in Ksef.node.ts.
    files: ['nodes/n8n/Ksef/actions/versionDescription.ts'],
    rules: { 'n8n-nodes-base/node-filename-against-convention': 'off' },
  },
  {
    files: ['credentials/**/*.ts'],
    plugins: { 'n8n-nodes-base': n8nNodesBase },
    rules: {
      ...n8nNodesBase.configs.credentials.rules,
      // For n8n's own repository (its doc slugs, per the rule's description); a community credential links a full URL.
      'n8n-nodes-base/cred-class-field-documentation-url-miscased': 'off',
    },
  },
  {
    // Tests read KSeF's loosely typed JSON answers and load Node-RED's CommonJS test helper.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off', '@typescript-eslint/no-require-imports': 'off' },
  },
);
