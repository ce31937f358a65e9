import type { ContextIdentifier, EnvironmentName, KsefClientOptions, KsefCredentials } from './types';
import { KsefInputError } from './http/errors';
import { CONTEXT_TYPES } from './protocol/model/identifiers';

/** API roots of the official KSeF 2.0 environments (NOTES.md 4). */
export const ENVIRONMENT_BASE_URLS: Record<'test' | 'demo' | 'production', string> = {
  test: 'https://api-test.ksef.mf.gov.pl/v2',
  demo: 'https://api-demo.ksef.mf.gov.pl/v2',
  production: 'https://api.ksef.mf.gov.pl/v2',
};

const ENVIRONMENT_NAMES: EnvironmentName[] = ['sandbox', 'test', 'demo', 'production', 'custom'];
const CREDENTIAL_METHODS: KsefCredentials['method'][] = ['ksefToken', 'certificate'];

/** Where the client talks to and in which context, after defaults were filled in. */
export interface ResolvedEnvironment {
  name: EnvironmentName;
  baseUrl: string;
  contextIdentifier: ContextIdentifier;
  /** The KSeF token, with method `ksefToken`. */
  ksefToken?: string;
}

/**
 * Checks the options that can be checked without the network, so a misconfiguration fails at once with
 * the field to fix. The embedded sandbox may leave context and token out: they come from the sandbox.
 */
export function checkEnvironmentOptions(options: KsefClientOptions): void {
  if (!options || typeof options !== 'object') {
    throw new KsefInputError('createKsefClient needs an options object: { environment, credentials }.', { field: 'options' });
  }
  const environment = environmentOf(options);
  if (!ENVIRONMENT_NAMES.includes(environment)) {
    throw new KsefInputError(
      `environment must be one of ${ENVIRONMENT_NAMES.join(', ')}; got ${JSON.stringify(environment)}.`,
      { field: 'environment' },
    );
  }
  if (environment === 'custom') normalizeBaseUrl(options.baseUrl);
  const credentials = options.credentials;
  if (!credentials || !CREDENTIAL_METHODS.includes(credentials.method)) {
    throw new KsefInputError(`credentials.method must be ${CREDENTIAL_METHODS.map((m) => `'${m}'`).join(' or ')}.`, {
      field: 'credentials.method',
    });
  }
  const requireAll = environment !== 'sandbox';
  if (credentials.contextIdentifier !== undefined || requireAll) checkContextIdentifier(credentials.contextIdentifier);
  if (credentials.method === 'ksefToken' && (credentials.ksefToken !== undefined || requireAll)) checkKsefToken(credentials.ksefToken);
}

/** The embedded sandbox unless another environment is named, so the engine works offline out of the box. */
function environmentOf(options: KsefClientOptions): EnvironmentName {
  return options.environment === undefined ? 'sandbox' : options.environment;
}

/** Resolves base URL and credentials; starts the embedded sandbox only when the sandbox environment is used. */
export async function resolveEnvironment(options: KsefClientOptions): Promise<ResolvedEnvironment> {
  checkEnvironmentOptions(options);
  const { credentials } = options;
  const { contextIdentifier } = credentials;
  const ksefToken = credentials.method === 'ksefToken' ? credentials.ksefToken : undefined;
  const environment = environmentOf(options);
  if (environment === 'sandbox') {
    const sandbox = await loadSandbox().ensureEmbeddedSandbox();
    if (!sandbox.officialSchemas) {
      options.logger?.warn(
        'The embedded KSeF sandbox did not find the official KSeF files (set KSEF_SPEC_DIR to the folder containing ksef-docs/): it checks invoices for well-formedness and KSeF\'s file rules only, not against the official XSDs.',
      );
    }
    return {
      name: 'sandbox',
      baseUrl: sandbox.baseUrl,
      contextIdentifier: contextIdentifier ?? sandbox.contextIdentifier,
      ...(credentials.method === 'ksefToken' && { ksefToken: ksefToken ?? sandbox.ksefToken }),
    };
  }
  const baseUrl = environment === 'custom' ? normalizeBaseUrl(options.baseUrl) : ENVIRONMENT_BASE_URLS[environment];
  return { name: environment, baseUrl, contextIdentifier: contextIdentifier!, ...(ksefToken !== undefined && { ksefToken }) };
}

/** Validates a custom API root and returns it without a trailing slash. */
export function normalizeBaseUrl(baseUrl: unknown): string {
  const fix = 'Give the API root including /v2, e.g. https://api-test.ksef.mf.gov.pl/v2.';
  if (typeof baseUrl !== 'string' || baseUrl.trim() === '') {
    throw new KsefInputError(`baseUrl is required when environment is 'custom'. ${fix}`, { field: 'baseUrl' });
  }
  let url: URL;
  try {
    url = new URL(baseUrl.trim());
  } catch {
    // Not echoed: a secret pasted into the wrong field would end up in the message.
    const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(baseUrl.trim()) ? '' : ' (it must start with https://)';
    throw new KsefInputError(`baseUrl is not a valid URL${scheme}. ${fix}`, { field: 'baseUrl' });
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new KsefInputError(`baseUrl must use http or https, not ${url.protocol.replace(':', '')}. ${fix}`, {
      field: 'baseUrl',
    });
  }
  if (url.username || url.password) {
    throw new KsefInputError('baseUrl must not contain a user name or password.', { field: 'baseUrl' });
  }
  if (url.search || url.hash) {
    throw new KsefInputError(`baseUrl must not contain a query string or fragment. ${fix}`, { field: 'baseUrl' });
  }
  return url.toString().replace(/\/+$/, '');
}

function checkContextIdentifier(context: ContextIdentifier | undefined): void {
  const field = 'credentials.contextIdentifier';
  if (!context || typeof context !== 'object') {
    throw new KsefInputError(`${field} is required: the context to work in, e.g. { type: 'Nip', value: '1234563218' }.`, {
      field,
    });
  }
  if (!CONTEXT_TYPES.includes(context.type)) {
    throw new KsefInputError(`${field}.type must be one of ${CONTEXT_TYPES.join(', ')}.`, { field: `${field}.type` });
  }
  if (typeof context.value !== 'string' || context.value.trim() === '') {
    throw new KsefInputError(`${field}.value is required (e.g. the ten-digit NIP).`, { field: `${field}.value` });
  }
  if (context.type === 'Nip' && !/^\d{10}$/.test(context.value)) {
    throw new KsefInputError(`${field}.value must be a NIP of ten digits without dashes.`, { field: `${field}.value` });
  }
}

function checkKsefToken(token: string | undefined): void {
  if (typeof token !== 'string' || token.trim() === '') {
    throw new KsefInputError('credentials.ksefToken is required: the KSeF token generated in KSeF (Aplikacja Podatnika).', {
      field: 'credentials.ksefToken',
    });
  }
}

type SandboxModule = typeof import('../sandbox');

/** Required lazily so hosts that never use the sandbox never load it. */
function loadSandbox(): SandboxModule {
  return require('../sandbox') as SandboxModule;
}
