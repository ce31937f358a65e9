#!/usr/bin/env node
// tsc emits only .js/.d.ts; Node-RED needs each node's .html and its locales/ beside the .js,
// and n8n needs the node icons beside the node file.
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const dist = path.join(root, 'dist');
fs.rmSync(dist, { recursive: true, force: true });
execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.build.json')], {
  stdio: 'inherit',
});

const assetPattern = /\.(html|json|svg|png)$/;
function copyAssets(fromDir, toDir) {
  if (!fs.existsSync(fromDir)) return;
  for (const entry of fs.readdirSync(fromDir, { withFileTypes: true })) {
    const from = path.join(fromDir, entry.name);
    const to = path.join(toDir, entry.name);
    if (entry.isDirectory()) copyAssets(from, to);
    else if (assetPattern.test(entry.name)) {
      fs.mkdirSync(toDir, { recursive: true });
      fs.copyFileSync(from, to);
    }
  }
}
for (const dir of ['nodes', 'credentials', 'sandbox', 'shared']) copyAssets(path.join(root, dir), path.join(dist, dir));
fs.chmodSync(path.join(dist, 'sandbox', 'cli.js'), 0o755);
