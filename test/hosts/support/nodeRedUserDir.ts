import { execFileSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort } from './ports';

const ROOT = path.resolve(__dirname, '..', '..', '..');

/** What the host tests use of scripts/quickstart.js (plain JavaScript: it runs before any build). */
interface Quickstart {
  writeSettings(userDir: string, port: number): string;
  startNodeRed(
    userDir: string,
    settingsFile: string,
    options: { onLine?: (line: string) => void; env?: NodeJS.ProcessEnv },
  ): Promise<ChildProcess>;
  stopNodeRed(child: ChildProcess): Promise<void>;
  EXAMPLE_FLOW: string;
  PACKAGE_NAME: string;
}
/** The quick start's Node-RED start-up, shared with the host tests so they run Node-RED exactly as `npm start` does. */
export const quickstart = require('../../../scripts/quickstart.js') as Quickstart;

export interface NodeRedUserDir {
  /** Temporary folder holding the packed tarball and the user folder; remove it after the suite. */
  workDir: string;
  /** Node-RED's user folder with the package installed from its tarball, as a palette install leaves it. */
  userDir: string;
}

/**
 * A fresh Node-RED user folder with this package packed and installed the way users get it (`npm pack`, then
 * `npm install <tgz>` in the user folder). `builtFiles` (below `dist/nodes/node-red/`) must exist: the tarball is
 * packed from `dist/` as it is, so a missing build would otherwise install a package without its nodes.
 */
function nodeRedUserDirWithPackage(prefix: string, builtFiles: string[]): NodeRedUserDir {
  const built = builtFiles.map((file) => path.join(ROOT, 'dist', 'nodes', 'node-red', file));
  if (!built.every((file) => fs.existsSync(file))) {
    throw new Error('dist/ is missing or incomplete: run `npm run build` first (`npm run test:hosts` does).');
  }
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const userDir = path.join(workDir, 'user');
  fs.mkdirSync(userDir);
  const tarball = npm(['pack', '--ignore-scripts', '--pack-destination', workDir], ROOT).trim().split('\n').pop()!;
  fs.writeFileSync(path.join(userDir, 'package.json'), JSON.stringify({ name: 'node-red-project', private: true }));
  npm(['install', '--no-audit', '--no-fund', '--omit=peer', '--prefer-offline', path.join(workDir, tarball)], userDir);
  return { workDir, userDir };
}

export interface NodeRedInstallation extends NodeRedUserDir {
  /** Where Node-RED is to listen: a port free a moment ago. */
  baseUrl: string;
  /** The settings the quick start writes for that port. */
  settingsFile: string;
}

/** `nodeRedUserDirWithPackage` with the quick start's settings for a free port: Node-RED as `npm start` runs it. */
export async function nodeRedWithPackage(prefix: string, builtFiles: string[]): Promise<NodeRedInstallation> {
  const installed = nodeRedUserDirWithPackage(prefix, builtFiles);
  const port = await freePort();
  return { ...installed, baseUrl: `http://127.0.0.1:${port}`, settingsFile: quickstart.writeSettings(installed.userDir, port) };
}

function npm(args: string[], cwd: string): string {
  return execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}
