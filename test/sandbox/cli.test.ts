import { NO_OFFICIAL_SCHEMAS_WARNING, parseCliArgs, runCli } from '../../sandbox/cli';
import { startSandbox } from '../../sandbox';
import { KsefHttp } from '../support/ksefHttp';

describe('ksef-sandbox command', () => {
  it('prints exactly one JSON line with a working base URL, the context and its KSeF token', async () => {
    const lines: string[] = [];
    const warnings: string[] = [];
    const sandbox = await runCli(
      ['--nip', '5265877635', '--host', '127.0.0.1', '--port', '0'],
      (line) => lines.push(line),
      (line) => warnings.push(line),
    );
    try {
      expect(lines).toHaveLength(1);
      expect(sandbox.officialSchemas).toBe(true);
      expect(warnings).toEqual([]);
      const ready = JSON.parse(lines[0]);
      expect(Object.keys(ready)).toEqual(['baseUrl', 'contextIdentifier', 'ksefToken']);
      expect(ready.contextIdentifier).toEqual({ type: 'Nip', value: '5265877635' });
      expect(ready.ksefToken).toMatch(/\|nip-5265877635\|[0-9a-f]{64}$/);
      const http = new KsefHttp(ready.baseUrl);
      await expect(http.authenticate(ready.ksefToken, ready.contextIdentifier)).resolves.toMatchObject({ accessToken: expect.any(String) });
    } finally {
      await sandbox.close();
    }
  });

  it('says when it runs without the official schemas', async () => {
    const sandbox = await startSandbox({ specDir: null });
    try {
      expect(sandbox.officialSchemas).toBe(false);
      expect(NO_OFFICIAL_SCHEMAS_WARNING).toContain('KSEF_SPEC_DIR');
    } finally {
      await sandbox.close();
    }
  });

  it('explains bad arguments', () => {
    expect(() => parseCliArgs(['--nip', '12'])).toThrow('--nip must be a NIP of 10 digits, got "12".');
    expect(() => parseCliArgs(['--port', 'x'])).toThrow('--port must be an integer from 0 to 65535');
    expect(() => parseCliArgs(['--verbose'])).toThrow('Unknown option --verbose');
    expect(() => parseCliArgs(['--host'])).toThrow('Option --host needs a value');
  });
});
