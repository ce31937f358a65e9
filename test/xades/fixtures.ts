/** Shared helpers of the XAdES tests: temp files and the independent tools (xmlsec1, xmllint, openssl). */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { AuthTokenRequest } from '../../shared/protocol/xml/xades/authTokenRequest';

export const DEMO_NIP = '1234563218';
export const CHALLENGE = '20250604-CR-461EA5B000-537A6BA15D-D7';
export const OTHER_CHALLENGE = '20250604-CR-461EA5B000-537A6BA15D-E8';

export function authRequest(overrides: Partial<AuthTokenRequest> = {}): AuthTokenRequest {
  return {
    challenge: CHALLENGE,
    contextIdentifier: { type: 'Nip', value: DEMO_NIP },
    subjectIdentifierType: 'certificateSubject',
    ...overrides,
  };
}

export interface TempDir {
  file(name: string, contents: string | Buffer): string;
  remove(): void;
}

export function tempDir(): TempDir {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xades-test-'));
  return {
    file: (name, contents) => {
      const file = path.join(dir, name);
      fs.writeFileSync(file, contents);
      return file;
    },
    remove: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

export interface ToolResult {
  status: number | null;
  output: string;
}

export function run(command: string, args: string[]): ToolResult {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  if (result.error)
    throw new Error(`${command} could not run (${result.error.message}); install it: apt-get install -y xmlsec1 libxml2-utils openssl`);
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}
