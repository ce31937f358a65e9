import type { ContextIdentifier } from '../protocol/types';
import type { KsefClientOptions } from '../types';
import type { KsefCredentials } from '../auth/types';
import type { EnvironmentName, EnvironmentProvider, KsefEnvironment } from './types';
import { KsefInputError } from '../http/errors';
import { CONTEXT_TYPES } from '../protocol/model/identifiers';

/** API roots of the official KSeF 2.0 environments (the TEST one is the server of open-api.json, CIRFMF/ksef-api). */
export const ENVIRONMENT_BASE_URLS: Record<'test' | 'demo' | 'production', string> = {
  test: 'https://api-test.ksef.mf.gov.pl/v2',
  demo: 'https://api-demo.ksef.mf.gov.pl/v2',
  production: 'https://api.ksef.mf.gov.pl/v2',
};

const NAMED_ENVIRONMENTS = ['test', 'demo', 'production', 'custom'] as const;
type NamedEnvironment = (typeof NAMED_ENVIRONMENTS)[number];
const ENVIRONMENT_CHOICES =
  "'test', 'demo', 'production', 'custom' (with baseUrl), or the embedded sandbox passed as environment: embeddedSandbox() " +
  "(from require('@ksef-flow/n8n-nodes-ksef/dist/sandbox'))";
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
 * the field to fix. With the embedded sandbox context and token may be left out: they come from the sandbox.
 */
export function checkEnvironmentOptions(options: KsefClientOptions): NamedEnvironment | EnvironmentProvider {
  if (!options || typeof options !== 'object') {
    throw new KsefInputError('createKsefClient needs an options object: { environment, credentials }.', { field: 'options' });
  }
  const environment = checkEnvironment(options.environment);
  if (environment === 'custom') normalizeBaseUrl(options.baseUrl);
  const credentials = options.credentials;
  if (!credentials || !CREDENTIAL_METHODS.includes(credentials.method)) {
    throw new KsefInputError(`The authentication method must be ${CREDENTIAL_METHODS.map((m) => `'${m}'`).join(' or ')}.`, {
      field: 'credentials.method',
    });
  }
  const requireAll = typeof environment === 'string';
  if (credentials.contextIdentifier !== undefined || requireAll) checkContextIdentifier(credentials.contextIdentifier);
  if (credentials.method === 'ksefToken' && (credentials.ksefToken !== undefined || requireAll)) checkKsefToken(credentials.ksefToken);
  return environment;
}

/**
 * No default: a script that forgets the environment must not send invoices anywhere, least of all to a simulator
 * whose KSeF numbers look real. The sandbox is an object handed in, so the engine never loads it.
 */
function checkEnvironment(environment: KsefEnvironment | undefined): NamedEnvironment | EnvironmentProvider {
  if (environment === undefined || environment === null || (environment as unknown) === '') {
    throw new KsefInputError(`environment is required: ${ENVIRONMENT_CHOICES}. Nothing is sent without it.`, { field: 'environment' });
  }
  if (typeof environment === 'object') {
    if (environment.name === 'sandbox' && typeof environment.connect === 'function') return environment;
    throw new KsefInputError(`environment is an object but not the embedded sandbox; use ${ENVIRONMENT_CHOICES}.`, {
      field: 'environment',
    });
  }
  if ((environment as string) === 'sandbox') {
    throw new KsefInputError(
      "environment 'sandbox' is not a name the engine resolves: pass the embedded sandbox itself as environment: embeddedSandbox() " +
        "(from require('@ksef-flow/n8n-nodes-ksef/dist/sandbox')).",
      { field: 'environment' },
    );
  }
  if (!(NAMED_ENVIRONMENTS as readonly string[]).includes(environment)) {
    throw new KsefInputError(`environment must be ${ENVIRONMENT_CHOICES}; got ${JSON.stringify(environment)}.`, { field: 'environment' });
  }
  return environment;
}

/** Resolves base URL and credentials; a provided environment (the embedded sandbox) is connected to, and started, only here. */
export async function resolveEnvironment(options: KsefClientOptions): Promise<ResolvedEnvironment> {
  const environment = checkEnvironmentOptions(options);
  const { credentials } = options;
  const { contextIdentifier } = credentials;
  const ksefToken = credentials.method === 'ksefToken' ? credentials.ksefToken : undefined;
  if (typeof environment === 'object') {
    const provided = await environment.connect();
    if (provided.warning) options.logger?.warn(provided.warning);
    return {
      name: environment.name,
      baseUrl: provided.baseUrl,
      contextIdentifier: contextIdentifier ?? provided.contextIdentifier,
      ...(credentials.method === 'ksefToken' && { ksefToken: ksefToken ?? provided.ksefToken }),
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
    throw new KsefInputError(
      "The context identifier is required: the context to work in, e.g. the NIP { type: 'Nip', value: '1234563218' }.",
      {
        field,
      },
    );
  }
  if (!CONTEXT_TYPES.includes(context.type)) {
    throw new KsefInputError(`The context identifier type must be one of ${CONTEXT_TYPES.join(', ')}.`, { field: `${field}.type` });
  }
  if (typeof context.value !== 'string' || context.value.trim() === '') {
    throw new KsefInputError('The context identifier is empty: give it, e.g. the ten-digit NIP.', { field: `${field}.value` });
  }
  if (context.type === 'Nip' && !/^\d{10}$/.test(context.value)) {
    throw new KsefInputError('The context identifier must be a NIP of ten digits without dashes.', { field: `${field}.value` });
  }
}

function checkKsefToken(token: string | undefined): void {
  if (typeof token !== 'string' || token.trim() === '') {
    throw new KsefInputError('The KSeF token is required: the token generated in KSeF (Aplikacja Podatnika).', {
      field: 'credentials.ksefToken',
    });
  }
}
