#!/usr/bin/env node
/**
 * `ksef-sandbox [--port N] [--host 127.0.0.1] [--nip NIP] [--seed-received N] [--fetch-spec]`: runs the sandbox and
 * prints one JSON line with its base URL, demo context and demo KSeF token (the sandbox's own, so printing it is intended).
 * `--seed-received N`: N invoices from other sellers to the demo context, stored over the past 30 days.
 * `--fetch-spec`: without a spec folder, the pinned official KSeF files are fetched once into the user's cache.
 */
import { resolveSpecFolder } from './fetchSpec';
import { startSandbox, type RunningSandbox, type SandboxOptions } from './index';

export const USAGE = 'Usage: ksef-sandbox [--port N] [--host 127.0.0.1] [--nip NIP] [--seed-received N] [--fetch-spec]';

export interface CliOptions extends Pick<SandboxOptions, 'port' | 'host' | 'nip' | 'seedReceived'> {
  fetchSpec?: boolean;
}

export function parseCliArgs(argv: string[]): CliOptions {
  const options: CliOptions = {};
  const args = [...argv];
  while (args.length > 0) {
    const flag = args.shift()!;
    if (flag === '--fetch-spec') {
      options.fetchSpec = true;
      continue;
    }
    if (!['--port', '--host', '--nip', '--seed-received'].includes(flag)) throw new Error(`Unknown option ${flag}. ${USAGE}`);
    const value = args.shift();
    if (value === undefined) throw new Error(`Option ${flag} needs a value. ${USAGE}`);
    if (flag === '--port') {
      const port = Number(value);
      if (!Number.isInteger(port) || port < 0 || port > 65535)
        throw new Error(`--port must be an integer from 0 to 65535, got "${value}".`);
      options.port = port;
    } else if (flag === '--seed-received') {
      const count = Number(value);
      if (!/^\d+$/.test(value) || !Number.isSafeInteger(count))
        throw new Error(`--seed-received must be a non-negative integer, got "${value}".`);
      options.seedReceived = count;
    } else if (flag === '--host') {
      options.host = value;
    } else {
      if (!/^\d{10}$/.test(value)) throw new Error(`--nip must be a NIP of 10 digits, got "${value}".`);
      options.nip = value;
    }
  }
  return options;
}

export const NO_OFFICIAL_SCHEMAS_WARNING =
  'ksef-sandbox: the official KSeF files were not found (set KSEF_SPEC_DIR to the folder that contains ksef-docs/, ' +
  'or pass --fetch-spec to download them once from the official repositories), ' +
  "so invoices are checked for well-formedness and KSeF's file rules only, not against the official XSDs.";

/** Starts the sandbox and writes the one ready line (and, on `warn`, what it fetches or cannot check). */
export async function runCli(
  argv: string[],
  writeLine: (line: string) => void,
  warn: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): Promise<RunningSandbox> {
  const { fetchSpec, ...options } = parseCliArgs(argv);
  const specDir = fetchSpec ? await resolveSpecFolder({ log: warn }) : undefined;
  const sandbox = await startSandbox({ ...options, specDir });
  writeLine(JSON.stringify({ baseUrl: sandbox.baseUrl, contextIdentifier: sandbox.contextIdentifier, ksefToken: sandbox.ksefToken }));
  if (!sandbox.officialSchemas) warn(NO_OFFICIAL_SCHEMAS_WARNING);
  return sandbox;
}

if (require.main === module) {
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${USAGE}\n`);
  } else {
    runCli(argv, (line) => process.stdout.write(`${line}\n`)).then(
      (sandbox) => {
        const stop = () =>
          sandbox.close().then(
            () => process.exit(0),
            () => process.exit(1),
          );
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      },
      (error: unknown) => {
        process.stderr.write(`ksef-sandbox: ${error instanceof Error ? error.message : String(error)}\n`);
        process.exit(1);
      },
    );
  }
}
