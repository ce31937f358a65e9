/**
 * The embedded KSeF sandbox: a local simulator of the KSeF 2.0 API on 127.0.0.1 (API under `/v2`), with its
 * own encryption keys, a demo context and an active owner KSeF token.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PUBLISHED_RATE_LIMITS } from '../shared/protocol/model/rateLimits';
import { findSpecFolder } from '../shared/protocol/spec/specFolder';
import type { Clock, ContextIdentifier, Logger } from '../shared/protocol/types';
import { SandboxCertificateAuthority } from './certificates/ca';
import type { SandboxContext, Scheduler } from './context';
import { generateSandboxKey, generateSandboxKeys, type SandboxKey } from './security/keys';
import type { PublicKeyUsage } from '../shared/protocol/types';
import { OpenApiSpec } from './http/openapi';
import type { RateLimit, RateLimitGroup } from './limits/records';
import { authRoutes } from './auth/routes';
import { authSessionRoutes } from './authSessions/routes';
import { certificateRoutes } from './certificates/routes';
import { invoiceRoutes } from './invoices/routes';
import { invoiceExportRoutes } from './invoices/exportRoutes';
import { holdExports } from './invoices/exports';
import { DEFAULT_HWM_DELAY_MS } from './invoices/query';
import { INVOICE_QUERY_RECORD_LIMIT } from '../shared/protocol/model/invoiceMetadata';
import { seedReceivedInvoices, type SeedReceivedOptions } from './samples/receivedInvoices';
import { limitRoutes } from './limits/routes';
import { securityRoutes } from './security/routes';
import { sessionRoutes } from './sessions/routes';
import { MAX_DOCUMENTS_PER_UPO_PAGE } from './sessions/upo';
import { tokenRoutes } from './tokens/routes';
import { createRequestListener, type SandboxExchange } from './http/server';
import { SandboxState } from './state';
import { subjectKey } from './auth/records';
import type { KsefTokenPermission } from '../shared/protocol/types';
import { SandboxStorage } from './storage/store';
import { DAY_MS } from './dates';

export type { SandboxExchange } from './http/server';
export type { ContextLimits, RateLimit, RateLimitGroup, SessionLimits } from './limits/records';
export type { SeedReceivedOptions } from './samples/receivedInvoices';

export const DEFAULT_SANDBOX_NIP = '1234563218';
export const DEFAULT_PROCESSING_DELAY_MS = 30;
/** The period `seedReceived` spreads its invoices over, up to the sandbox's start. */
const SEED_PERIOD_MS = 30 * DAY_MS;
export const OWNER_TOKEN_PERMISSIONS: KsefTokenPermission[] = ['InvoiceRead', 'InvoiceWrite', 'CredentialsRead', 'CredentialsManage'];

export interface SandboxOptions {
  /** Port to listen on; 0 (default) picks a free one. */
  port?: number;
  /** Interface to listen on (default 127.0.0.1). */
  host?: string;
  /**
   * Folder with the official KSeF files (`ksef-docs/`); default `findSpecFolder()`. It enables request validation
   * against open-api.json and XSD checks of invoices; `null` runs without it (hand checks only).
   */
  specDir?: string | null;
  /** NIP of the demo context (default 1234563218). */
  nip?: string;
  /** How long asynchronous processing (authentication, invoices, session close) takes (default 30 ms). */
  processingDelayMs?: number;
  clock?: Clock;
  /**
   * Replaces the default rate limits of some groups, e.g. `{ invoiceStatus: { perSecond: 2, perMinute: 2, perHour: 2 } }`.
   * One context's limits change at run time with `state.limits` of the handle or `POST /testdata/rate-limits`.
   */
  rateLimits?: Partial<Record<RateLimitGroup, RateLimit>>;
  /** Called after every answered request (contract tests record these). */
  onExchange?: (exchange: SandboxExchange) => void;
  /** false: the server and its timers do not keep the Node.js process alive (default true). */
  keepProcessAlive?: boolean;
  /** Receives unexpected handler failures (default: console). */
  logger?: Pick<Logger, 'error'>;
  /**
   * How far `permanentStorageHwmDate` (hwm.md) lags behind now, in ms (default 2 s): invoices stored since then may
   * still be joined by others in a real KSeF, so a sync restricted to the mark leaves them for its next run.
   */
  hwmDelayMs?: number;
  /** Matches of one metadata query that can be paged through before `isTruncated` (default KSeF's 10,000; lower it in tests). */
  queryRecordLimit?: number;
  /**
   * Preloads this many invoices other sellers issued to the demo context (default 0), permanently stored over the 30
   * days before the start: a sync from some days back finds them, one from now finds none.
   */
  seedReceived?: number;
  /** Invoices per export package before it is truncated (default KSeF's 10,000; lower it in tests). */
  exportMaxInvoices?: number;
  /** Compressed bytes of invoices per export package before it is truncated (default KSeF's 1 GB; lower it in tests). */
  exportMaxPackageBytes?: number;
  /** Bytes per export part before encryption (default KSeF's 50 MB; lower it in tests to get several parts). */
  exportPartSize?: number;
  /** How long an export package can be downloaded before its status becomes 210 (default a day; KSeF does not publish it). */
  exportPackageValidityMs?: number;
  /** Invoices per session UPO page, 1 to 10,000 (default KSeF's 10,000; lower it in tests to get several pages). */
  sessionUpoPageSize?: number;
}

export interface RunningSandbox {
  /** `http://127.0.0.1:N/v2` */
  baseUrl: string;
  contextIdentifier: ContextIdentifier & { type: 'Nip' };
  /** The demo context's owner KSeF token (a sandbox secret, printed only by the CLI on purpose). */
  ksefToken: string;
  /**
   * True when the official KSeF files were found: invoices are validated against the official XSDs and requests
   * against open-api.json. False: well-formedness and KSeF's file rules only.
   */
  officialSchemas: boolean;
  close(): Promise<void>;
}

/** A running sandbox plus its state, for tests that must set up what KSeF's management endpoints would. */
export interface SandboxHandle extends RunningSandbox {
  /** What the sandbox remembers; `state.limits` changes a context's rate and session limits while it runs. */
  state: SandboxState;
  clock: Clock;
  /**
   * The storage host: upload slots for parts and what was uploaded to them, export parts, and
   * `corruptNextDownload(url)`, which flips one byte of a blob's next download (a part's hash check then fails once).
   */
  storage: SandboxStorage;
  /** Publishes a new key for `usage`, valid from `validFrom` (default now), next to the current one: a planned rotation. */
  rotatePublicKey(usage: PublicKeyUsage, validFrom?: Date): Promise<SandboxKey>;
  /** Stops publishing and accepting the key: requests naming it are refused with 21470 from then on. */
  withdrawPublicKey(publicKeyId: string): void;
  /**
   * Adds `count` invoices other sellers issued to the demo context (or `options.buyerNip`), permanently stored now
   * unless `options.from`/`to` spread them over a period; returns their KSeF numbers in date order.
   */
  seedReceived(count: number, options?: SeedReceivedOptions): string[];
  /**
   * Holds every invoice export at status 100 (`true`), as a slow KSeF would, or lets them finish (`false`). Held
   * exports count towards the context's 10 concurrent ones (21182). Other export switches: `state.invoiceExports`
   * (`failNextWith` 500 or 550 ends the next export so; `limits` lowered at run time) and, to test a client's part
   * integrity checks, `storage.corruptNextDownload(part.url, times)`, which flips one byte of the next downloads.
   */
  holdExports(hold: boolean): void;
}

const SYSTEM_CLOCK: Clock = { now: () => new Date() };

export async function startSandbox(opts: SandboxOptions = {}): Promise<SandboxHandle> {
  const clock = opts.clock ?? SYSTEM_CLOCK;
  const nip = opts.nip ?? DEFAULT_SANDBOX_NIP;
  if (!/^\d{10}$/.test(nip)) throw new RangeError(`Sandbox option nip must be 10 digits, got "${nip}".`);
  const specDir = opts.specDir === null ? undefined : findSpecFolder(opts.specDir);
  const keys = await generateSandboxKeys(clock.now());

  const state = new SandboxState({ ...PUBLISHED_RATE_LIMITS, ...opts.rateLimits });
  Object.assign(state.invoiceExports.limits, {
    ...(opts.exportMaxInvoices !== undefined && { maxInvoices: positiveInteger(opts.exportMaxInvoices, 'exportMaxInvoices') }),
    ...(opts.exportMaxPackageBytes !== undefined && {
      maxPackageBytes: positiveInteger(opts.exportMaxPackageBytes, 'exportMaxPackageBytes'),
    }),
    ...(opts.exportPartSize !== undefined && { partSize: positiveInteger(opts.exportPartSize, 'exportPartSize') }),
    ...(opts.exportPackageValidityMs !== undefined && {
      packageValidityMs: positiveInteger(opts.exportPackageValidityMs, 'exportPackageValidityMs'),
    }),
  });
  if (opts.sessionUpoPageSize !== undefined) {
    state.sessionUpoPageSize = positiveInteger(opts.sessionUpoPageSize, 'sessionUpoPageSize');
    if (state.sessionUpoPageSize > MAX_DOCUMENTS_PER_UPO_PAGE) {
      throw new RangeError(
        `Sandbox option sessionUpoPageSize must not exceed ${MAX_DOCUMENTS_PER_UPO_PAGE}, got ${state.sessionUpoPageSize}.`,
      );
    }
  }
  const contextIdentifier = { type: 'Nip' as const, value: nip };
  const ownerToken = state.issueKsefToken({
    contextIdentifier,
    authorIdentifier: { type: 'Nip', value: nip },
    description: 'Sandbox owner token',
    permissions: OWNER_TOKEN_PERMISSIONS,
    now: clock.now(),
  });
  // The owner's token stands for an owner who once authenticated with a signature, as generating tokens requires.
  state.xadesAuthenticatedSubjects.add(subjectKey(ownerToken.authorIdentifier));

  const keepProcessAlive = opts.keepProcessAlive ?? true;
  const scheduler = new TimerScheduler(opts.logger ?? console, keepProcessAlive);
  const storage = new SandboxStorage(randomBytes(32));
  const ctx: SandboxContext = {
    state,
    keys,
    clock,
    jwtSecret: randomBytes(32),
    processingDelayMs: opts.processingDelayMs ?? DEFAULT_PROCESSING_DELAY_MS,
    specDir,
    spec: specDir ? OpenApiSpec.load(specDir) : undefined,
    scheduler,
    storage,
    certificateAuthority: SandboxCertificateAuthority.create(clock.now()),
    hwmDelayMs: nonNegativeInteger(opts.hwmDelayMs ?? DEFAULT_HWM_DELAY_MS, 'hwmDelayMs'),
    queryRecordLimit: nonNegativeInteger(opts.queryRecordLimit ?? INVOICE_QUERY_RECORD_LIMIT, 'queryRecordLimit'),
  };
  const routes = [
    ...securityRoutes(ctx),
    ...authRoutes(ctx),
    ...authSessionRoutes(ctx),
    ...tokenRoutes(ctx),
    ...certificateRoutes(ctx),
    ...sessionRoutes(ctx),
    ...invoiceRoutes(ctx),
    ...invoiceExportRoutes(ctx),
    ...limitRoutes(ctx),
  ];
  const server = createServer(createRequestListener(ctx, routes, { onExchange: opts.onExchange, logger: opts.logger ?? console }));
  const host = opts.host ?? '127.0.0.1';
  await listen(server, opts.port ?? 0, host);
  if (!keepProcessAlive) server.unref();
  const { port } = server.address() as AddressInfo;
  // Listening on every interface still needs a concrete address in the links the sandbox hands out.
  const linkHost = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  const origin = `http://${linkHost.includes(':') ? `[${linkHost}]` : linkHost}:${port}`;
  storage.setOrigin(origin);
  const seedReceived = (count: number, options: SeedReceivedOptions, defaultFrom: Date): string[] =>
    seedReceivedInvoices(ctx, count, { buyerNip: nip, from: defaultFrom, ...options }).map((stored) => stored.invoice.ksefNumber!);
  if (opts.seedReceived) seedReceived(opts.seedReceived, {}, new Date(clock.now().getTime() - SEED_PERIOD_MS));

  return {
    baseUrl: `${origin}/v2`,
    contextIdentifier,
    ksefToken: ownerToken.secret,
    officialSchemas: !!specDir,
    state,
    clock,
    storage,
    rotatePublicKey: async (usage, validFrom = clock.now()) => {
      const key = await generateSandboxKey(usage, validFrom);
      keys.push(key);
      return key;
    },
    holdExports: (hold) => holdExports(ctx, hold),
    seedReceived: (count, options = {}) => seedReceived(count, options, options.to ?? clock.now()),
    withdrawPublicKey: (publicKeyId) => {
      const index = keys.findIndex((k) => k.publicKeyId === publicKeyId);
      if (index < 0) throw new RangeError(`The sandbox publishes no key ${publicKeyId}.`);
      keys.splice(index, 1);
    },
    close: async () => {
      scheduler.cancelAll();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await storage.close();
    },
  };
}

let embedded: Promise<RunningSandbox> | undefined;

/** What the embedded sandbox starts with; only its start (the first call in the process) takes them. */
export type EmbeddedSandboxOptions = Pick<SandboxOptions, 'seedReceived'>;

/**
 * The process-wide sandbox behind `embeddedSandbox()`, started on first use. It does not keep the process
 * alive: its server and timers are unreferenced. Closing it lets the next call start a fresh one.
 */
export function ensureEmbeddedSandbox(options: EmbeddedSandboxOptions = {}): Promise<RunningSandbox> {
  embedded ??= startSandbox({ keepProcessAlive: false, ...options }).then(
    (sandbox): RunningSandbox => ({
      baseUrl: sandbox.baseUrl,
      contextIdentifier: sandbox.contextIdentifier,
      ksefToken: sandbox.ksefToken,
      officialSchemas: sandbox.officialSchemas,
      close: async () => {
        embedded = undefined;
        await sandbox.close();
      },
    }),
    (error: unknown) => {
      embedded = undefined;
      throw error;
    },
  );
  return embedded;
}

/**
 * The embedded sandbox as the engine takes it: `createKsefClient({ environment: embeddedSandbox(), credentials: {
 * method: 'ksefToken' } })`. It matches the engine's `EnvironmentProvider` by shape, so the sandbox imports nothing of
 * the engine; the sandbox itself is `ensureEmbeddedSandbox()`'s, started on the first connect and shared by the process.
 */
export interface EmbeddedSandboxProvider {
  readonly name: 'sandbox';
  connect(): Promise<{ baseUrl: string; contextIdentifier: ContextIdentifier; ksefToken: string; warning?: string }>;
}

export function embeddedSandbox(options: EmbeddedSandboxOptions = {}): EmbeddedSandboxProvider {
  return {
    name: 'sandbox',
    connect: async () => {
      const { baseUrl, contextIdentifier, ksefToken, officialSchemas } = await ensureEmbeddedSandbox(options);
      return { baseUrl, contextIdentifier, ksefToken, ...(!officialSchemas && { warning: NO_OFFICIAL_SCHEMAS_WARNING }) };
    },
  };
}

const NO_OFFICIAL_SCHEMAS_WARNING =
  "The embedded KSeF sandbox did not find the official KSeF files (set KSEF_SPEC_DIR to the folder containing ksef-docs/): it checks invoices for well-formedness and KSeF's file rules only, not against the official XSDs.";

class TimerScheduler implements Scheduler {
  private readonly timers = new Set<NodeJS.Timeout>();
  running = true;

  constructor(
    private readonly logger: Pick<Logger, 'error'>,
    private readonly keepProcessAlive: boolean,
  ) {}

  after(delayMs: number, task: () => void | Promise<void>): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      Promise.resolve()
        .then(task)
        .catch((error: unknown) => this.logger.error('ksef sandbox: background task failed', { error: String(error) }));
    }, delayMs);
    if (!this.keepProcessAlive) timer.unref();
    this.timers.add(timer);
  }

  cancelAll(): void {
    this.running = false;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }
}

function nonNegativeInteger(value: number, option: string): number {
  if (!Number.isInteger(value) || value < 0) throw new RangeError(`Sandbox option ${option} must be a non-negative integer, got ${value}.`);
  return value;
}

function positiveInteger(value: number, option: string): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`Sandbox option ${option} must be a positive integer, got ${value}.`);
  return value;
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
