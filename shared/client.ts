import type {
  AuthenticationResult,
  BatchSendOptions,
  BatchSendResult,
  Clock,
  InvoiceInput,
  KsefClient,
  KsefClientOptions,
  ListSessionInvoicesOptions,
  SendInvoicesOptions,
  SendInvoicesResult,
  SessionInvoiceStatus,
  Sleep,
} from './types';
import { checkEnvironmentOptions, resolveEnvironment, type ResolvedEnvironment } from './environments/environments';
import { KsefError, KsefInputError } from './http/errors';
import { Transport, type RequestFunction } from './http/transport';
import { ratePacerFor } from './http/rateLimits';
import { PublicKeys } from './security/publicKeys';
import { KsefTokenAuthentication } from './auth/ksefTokenMethod';
import { XadesAuthentication, prepareCertificateAuthentication, type CertificateAuthenticationSettings } from './auth/xades/method';
import type { AuthenticationMethod } from './auth/method';
import { TokenProvider } from './auth/accessTokens';
import { withAuthentication } from './auth/hook';
import { processTokenStore } from './auth/tokenStore';
import { sendInvoicesOnline } from './sessions/online';
import { sendInvoicesInBatch } from './sessions/batch/batch';
import { chooseSendMode } from './sessions/sendMode';
import { listSessionInvoices } from './sessions/invoices';
import { getInvoiceStatus } from './sessions/status';
import { endpointMethods, callEndpoint } from './http/endpoints';
import { generateKsefToken, tokenEndpoints } from './tokens/tokens';
import { authSessionEndpoints } from './authSessions/authSessions';
import { certificateEndpoints, completeEnrollment, createCertificateRequest, enrollCertificate } from './certificates/certificates';
import { limitEndpoints, rateLimitsEndpoint } from './limits/limits';
import { MemoryStateStore } from './state/stateStore';
import { SealKey } from './state/seal';
import { queryInvoiceMetadata } from './invoices/query';
import { getInvoiceXml } from './invoices/download';
import { exportInvoices, type ExportDeps } from './invoices/exports';
import { syncInvoices } from './invoices/sync';

const systemClock: Clock = { now: () => new Date() };
const realSleep: Sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Everything a client needs once its environment is known; built on first use. */
interface Runtime {
  environment: ResolvedEnvironment;
  transport: Transport;
  publicKeys: PublicKeys;
  tokens: TokenProvider;
  /** Authenticated requests. */
  api: RequestFunction;
}

/**
 * Creates a KSeF client. Options are checked at once (there is no default environment); the network (and a
 * provided environment such as the embedded sandbox) is only touched by the first operation.
 */
export function createKsefClient(options: KsefClientOptions): KsefClient {
  checkEnvironmentOptions(options);
  const requestTimeoutMs = positiveNumber(options.requestTimeoutMs, 30_000, 'requestTimeoutMs');
  const authTimeoutMs = positiveNumber(options.authTimeoutMs, 60_000, 'authTimeoutMs');
  const maxRetryAfterMs = positiveNumber(options.maxRetryAfterMs, 30_000, 'maxRetryAfterMs', true);
  const clock = options.clock ?? systemClock;
  const sleep = options.sleep ?? realSleep;
  const { logger } = options;
  const store = options.tokenStore ?? processTokenStore;
  const stateStore = options.stateStore ?? new MemoryStateStore();
  // Loaded now, so a wrong password, mismatched key or expired certificate fails before anything is sent.
  const certificate: CertificateAuthenticationSettings | undefined =
    options.credentials.method === 'certificate' ? prepareCertificateAuthentication(options.credentials, clock) : undefined;
  let runtime: Promise<Runtime> | undefined;
  let closed = false;

  const build = async (): Promise<Runtime> => {
    const environment = await resolveEnvironment(options);
    const transport = new Transport({
      baseUrl: environment.baseUrl,
      clock,
      sleep,
      logger,
      timeoutMs: requestTimeoutMs,
      maxRetryAfterMs,
      pacer: ratePacerFor(environment.baseUrl, environment.contextIdentifier),
    });
    const publicKeys = new PublicKeys(environment.baseUrl, transport.request, clock, logger);
    const method: AuthenticationMethod = certificate
      ? new XadesAuthentication(environment.contextIdentifier, certificate, clock)
      : new KsefTokenAuthentication(environment.contextIdentifier, environment.ksefToken!);
    const tokens = new TokenProvider(method, store, {
      baseUrl: environment.baseUrl,
      request: transport.request,
      publicKeys,
      clock,
      sleep,
      logger,
      authTimeoutMs,
    });
    const api = withAuthentication(transport.request, tokens);
    transport.readEffectiveLimitsWith(() => callEndpoint(api, rateLimitsEndpoint));
    return { environment, transport, publicKeys, tokens, api };
  };

  const ready = (): Promise<Runtime> => {
    if (closed) return Promise.reject(new KsefError('This KSeF client was closed; create a new one.'));
    if (!runtime) {
      const building = build();
      runtime = building;
      // A failed start (e.g. the sandbox could not start) may be retried by the next call.
      building.catch(() => {
        if (runtime === building) runtime = undefined;
      });
    }
    return runtime;
  };

  /** Runs `list` once the client is ready, as a lazily started stream. */
  const stream = <T>(list: (runtime: Runtime) => AsyncIterable<T>): AsyncIterable<T> => ({
    async *[Symbol.asyncIterator]() {
      yield* list(await ready());
    },
  });

  const api = async (): Promise<RequestFunction> => (await ready()).api;
  const authSessions = endpointMethods(authSessionEndpoints, api);
  const certificates = endpointMethods(certificateEndpoints, api);

  const exportDeps = async (): Promise<ExportDeps> => {
    const { api, publicKeys, environment } = await ready();
    const { type, value } = environment.contextIdentifier;
    // Export keys kept for a later run are sealed with what only this credential's holder has.
    const credentialSecret = certificate
      ? certificate.keyMaterial.privateKey.export({ type: 'pkcs8', format: 'der' })
      : Buffer.from(environment.ksefToken!, 'utf8');
    const pacer = ratePacerFor(environment.baseUrl, environment.contextIdentifier);
    return {
      api,
      publicKeys,
      clock,
      sleep,
      logger,
      stateStore,
      scope: `${type}:${value}@${environment.baseUrl}`,
      sealKey: new SealKey(credentialSecret),
      async exportLimit() {
        await pacer.useEffectiveLimits(() => callEndpoint(api, rateLimitsEndpoint), logger);
        return pacer.limitOf('invoiceExport');
      },
    };
  };

  const sendOnline = async (invoices: InvoiceInput[], sendOptions?: SendInvoicesOptions): Promise<SendInvoicesResult> => {
    const { api, publicKeys, environment } = await ready();
    return {
      environment: environment.name,
      mode: 'online',
      ...(await sendInvoicesOnline({ api, publicKeys, clock, sleep, logger }, invoices, sendOptions)),
    };
  };

  const sendBatch = async (invoices: InvoiceInput[], batchOptions?: BatchSendOptions): Promise<BatchSendResult> => {
    const deps = await exportDeps();
    return { environment: (await ready()).environment.name, ...(await sendInvoicesInBatch(deps, invoices, batchOptions)) };
  };

  /** After its session was revoked, this client's tokens cannot be refreshed: the next call authenticates anew. */
  const forgetTokens = async ({ tokens }: Runtime): Promise<void> => {
    await store.delete(tokens.cacheKey);
  };

  return {
    async authenticate(authOptions = {}): Promise<AuthenticationResult> {
      const { tokens, environment } = await ready();
      const current = await tokens.tokens(authOptions.force ?? false);
      return {
        referenceNumber: current.referenceNumber ?? '',
        contextIdentifier: environment.contextIdentifier,
        accessTokenValidUntil: current.accessToken.validUntil,
        refreshTokenValidUntil: current.refreshToken.validUntil,
      };
    },
    sessions: {
      async send(invoices, sendOptions = {}) {
        return chooseSendMode(invoices, sendOptions) === 'batch' ? sendBatch(invoices, sendOptions) : sendOnline(invoices, sendOptions);
      },
      online: {
        send: sendOnline,
      },
      batch: {
        send: sendBatch,
      },
      invoices(sessionReferenceNumber: string, listOptions?: ListSessionInvoicesOptions): AsyncIterable<SessionInvoiceStatus> {
        return stream(({ api }) => listSessionInvoices(api, sessionReferenceNumber, listOptions));
      },
      async invoiceStatus(statusOptions) {
        const { api, environment } = await ready();
        return { environment: environment.name, ...(await getInvoiceStatus({ api, logger }, statusOptions)) };
      },
    },
    invoices: {
      query(filters, queryOptions) {
        return stream(({ api }) => queryInvoiceMetadata({ api, clock }, filters, queryOptions));
      },
      async get(ksefNumber, getOptions) {
        return getInvoiceXml({ api: await api(), clock, sleep, logger }, ksefNumber, getOptions);
      },
      async export(filters, exportOptions) {
        return exportInvoices(await exportDeps(), filters, exportOptions);
      },
      async sync(syncOptions) {
        return syncInvoices(await exportDeps(), syncOptions);
      },
    },
    tokens: {
      ...endpointMethods(tokenEndpoints, api),
      async generate(generateOptions) {
        return generateKsefToken({ api: await api(), clock, sleep, logger }, generateOptions);
      },
    },
    authSessions: {
      ...authSessions,
      async revokeCurrent() {
        await authSessions.revokeCurrent();
        await forgetTokens(await ready());
      },
      async revoke(referenceNumber) {
        await authSessions.revoke(referenceNumber);
        const current = await ready();
        const cached = await store.get(current.tokens.cacheKey);
        if (cached?.referenceNumber === referenceNumber) await forgetTokens(current);
      },
    },
    certificates: {
      ...certificates,
      async enroll(enrollOptions) {
        return enrollCertificate({ api: await api(), clock, sleep, logger }, enrollOptions);
      },
      async completeEnrollment(completeOptions) {
        return completeEnrollment({ api: await api(), clock, sleep, logger }, completeOptions);
      },
      async createRequest(requestOptions) {
        // Enrollment data given by the caller spare the connection: KSeF is asked for them only when missing.
        return createCertificateRequest(requestOptions, () => certificates.enrollmentData());
      },
    },
    limits: endpointMethods(limitEndpoints, api),
    async close(): Promise<void> {
      closed = true;
      const current = runtime;
      runtime = undefined;
      if (current) (await current.catch(() => undefined))?.transport.close();
    },
  };
}

function positiveNumber(value: number | undefined, fallback: number, field: string, zeroAllowed = false): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (value === 0 && !zeroAllowed)) {
    throw new KsefInputError(`${field} must be a ${zeroAllowed ? 'non-negative' : 'positive'} number of milliseconds.`, { field });
  }
  return value;
}
