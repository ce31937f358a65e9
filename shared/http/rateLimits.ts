/**
 * Client-side pacing by KSeF's rate limits (limity/limity-api.md, CIRFMF/ksef-docs; open-api.json x-rate-limits,
 * CIRFMF/ksef-api). KSeF counts requests per (context, client IP) and limit group in sliding windows of 1 s, 1 min
 * and 1 h, and answers 429 with a Retry-After (growing with repeated violations) once any window is full. The
 * pacer keeps the same windows and lets a request go only when all three allow it, so normal work never earns a 429.
 */
import type { Clock, ContextIdentifier, Logger, Sleep } from '../protocol/types';
import { PUBLISHED_RATE_LIMITS, type RateLimit, type RateLimitGroup } from '../protocol/model/rateLimits';

export type { RateLimit, RateLimitGroup };

/** Which group counts a request, in the order of the x-rate-limits of open-api.json; everything else is `other`. */
const GROUPS: { method: string; path: RegExp; group: RateLimitGroup }[] = [
  { method: 'POST', path: /^\/sessions\/online$/, group: 'onlineSession' },
  { method: 'POST', path: /^\/sessions\/online\/[^/]+\/invoices$/, group: 'invoiceSend' },
  { method: 'POST', path: /^\/sessions\/online\/[^/]+\/close$/, group: 'onlineSessionClose' },
  { method: 'POST', path: /^\/sessions\/batch$/, group: 'batchSession' },
  { method: 'POST', path: /^\/sessions\/batch\/[^/]+\/close$/, group: 'batchSessionClose' },
  { method: 'GET', path: /^\/sessions$/, group: 'sessionList' },
  { method: 'GET', path: /^\/sessions\/[^/]+$/, group: 'sessionMisc' },
  { method: 'GET', path: /^\/sessions\/[^/]+\/invoices(\/failed)?$/, group: 'sessionInvoiceList' },
  { method: 'GET', path: /^\/sessions\/[^/]+\/(invoices\/ksef\/[^/]+\/upo|invoices\/[^/]+\/upo|upo\/[^/]+)$/, group: 'sessionMisc' },
  { method: 'GET', path: /^\/sessions\/[^/]+\/invoices\/[^/]+$/, group: 'invoiceStatus' },
  { method: 'POST', path: /^\/invoices\/query\/metadata$/, group: 'invoiceMetadata' },
  { method: 'POST', path: /^\/invoices\/exports$/, group: 'invoiceExport' },
  { method: 'GET', path: /^\/invoices\/exports\/[^/]+$/, group: 'invoiceExportStatus' },
  { method: 'GET', path: /^\/invoices\/ksef\/[^/]+$/, group: 'invoiceDownload' },
  { method: '*', path: /^\/collective-identifiers(\/|$)/, group: 'collectiveIdentifier' },
  { method: 'POST', path: /^\/auth\/(challenge|xades-signature|ksef-token|token\/redeem|token\/refresh)$/, group: 'anonymous' },
  { method: 'GET', path: /^\/auth\/(?!sessions$)[^/]+$/, group: 'anonymous' },
  { method: 'GET', path: /^\/(security\/public-key-certificates|peppol\/query)$/, group: 'anonymous' },
  { method: 'POST', path: /^\/testdata\/(subject|person|permissions|attachment)(\/(remove|revoke))?$/, group: 'anonymous' },
];

/** The limit group of an API request (`path` below the API root, without the query). */
export function rateLimitGroupOf(method: string, path: string): RateLimitGroup {
  const found = GROUPS.find((entry) => (entry.method === '*' || entry.method === method) && entry.path.test(path));
  return found?.group ?? 'other';
}

const WINDOWS = [
  { ms: 1000, field: 'perSecond' },
  { ms: 60_000, field: 'perMinute' },
  { ms: 3_600_000, field: 'perHour' },
] as const;
const HOUR_MS = 3_600_000;

/**
 * Added to every window: a request reaches KSeF a little after it leaves here, and one that arrives a moment early
 * is refused and makes KSeF's next Retry-After longer.
 */
const TRANSIT_ALLOWANCE_MS = 500;

/** Send times of one group (and the block of its last 429), as the injected clock saw them. */
class GroupWindows {
  /** Ascending, the last hour only. */
  private readonly sentAt: number[] = [];
  private blockedUntil = 0;
  /** Settles when the request queued last has gone or given up: requests of a group go in the order they came. */
  lastInLine: Promise<void> = Promise.resolve();
  /** The slot the request at the head of the line sleeps until; no request behind it can go earlier. */
  headSlot = 0;

  /** The earliest time, not before `now`, at which every window has room for one more request. */
  earliestSlot(limit: RateLimit, now: number): number {
    let slot = Math.max(now, this.blockedUntil);
    for (const window of WINDOWS) {
      const max = limit[window.field];
      if (this.sentAt.length >= max) slot = Math.max(slot, this.sentAt[this.sentAt.length - max] + window.ms + TRANSIT_ALLOWANCE_MS);
    }
    return slot;
  }

  record(now: number): void {
    this.sentAt.push(now);
    const forgotten = this.sentAt.findIndex((at) => at > now - HOUR_MS - TRANSIT_ALLOWANCE_MS);
    if (forgotten > 0) this.sentAt.splice(0, forgotten);
  }

  block(until: number): void {
    this.blockedUntil = Math.max(this.blockedUntil, until);
  }
}

export interface PaceOptions {
  clock: Clock;
  sleep: Sleep;
  /** Latest time (ms, injected clock) the request may wait for. */
  notAfter: number;
}

/**
 * The rate windows of one (API, context). Shared by every client of that pair in the process (see `ratePacerFor`),
 * because KSeF counts per context and client IP, and n8n builds a new client for every execution.
 */
export class RatePacer {
  private readonly groups = new Map<RateLimitGroup, GroupWindows>();
  private limits: Record<RateLimitGroup, RateLimit> = { ...PUBLISHED_RATE_LIMITS };
  private effectiveLimits?: Promise<void>;

  /** `anonymous` requests are counted per client IP only, so their windows are shared across contexts. */
  constructor(private readonly anonymousWindows: GroupWindows) {}

  /**
   * Reads the context's effective limits (`GET /rate-limits`) once, with `read`; the published production limits
   * stay in force when that fails.
   */
  useEffectiveLimits(read: () => Promise<unknown>, logger?: Logger): Promise<void> {
    this.effectiveLimits ??= read().then(
      (body) => {
        this.limits = withEffectiveLimits(this.limits, body);
      },
      (error: unknown) => {
        logger?.warn("Could not read the context's rate limits; pacing by KSeF's published production limits", {
          reason: error instanceof Error ? error.message : String(error),
        });
      },
    );
    return this.effectiveLimits;
  }

  /**
   * Waits until a request of `group` may go and counts it; requests of a group go in the order they asked. When it
   * could go only after `notAfter`, it waits for nothing, counts nothing and returns the earliest time it may go.
   */
  async acquire(group: RateLimitGroup, { clock, sleep, notAfter }: PaceOptions): Promise<Date | undefined> {
    const windows = this.windowsOf(group);
    // Known at once, so a request that cannot make it is answered without queuing behind a long wait.
    if (windows.headSlot > notAfter) return new Date(windows.headSlot);
    const ahead = windows.lastInLine;
    let leaveLine!: () => void;
    windows.lastInLine = new Promise((resolve) => (leaveLine = resolve));
    try {
      await ahead;
      for (;;) {
        const now = clock.now().getTime();
        const slot = windows.earliestSlot(this.limits[group], now);
        if (slot > notAfter) return new Date(slot);
        if (slot <= now) {
          // Counted when it really goes, at the time it really goes.
          windows.record(now);
          return undefined;
        }
        windows.headSlot = slot;
        await sleep(slot - now);
      }
    } finally {
      leaveLine();
    }
  }

  /** KSeF answered 429 with Retry-After: no request of `group` goes before `until`. */
  block(group: RateLimitGroup, until: number): void {
    this.windowsOf(group).block(until);
  }

  /** The limits of `group` the pacer keeps to: the context's effective ones once read, else the published ones. */
  limitOf(group: RateLimitGroup): RateLimit {
    return this.limits[group];
  }

  private windowsOf(group: RateLimitGroup): GroupWindows {
    if (group === 'anonymous') return this.anonymousWindows;
    let windows = this.groups.get(group);
    if (!windows) this.groups.set(group, (windows = new GroupWindows()));
    return windows;
  }
}

/** Limits from a `GET /rate-limits` body; a group or value missing or unreadable keeps the one it had. */
function withEffectiveLimits(current: Record<RateLimitGroup, RateLimit>, body: unknown): Record<RateLimitGroup, RateLimit> {
  const effective = { ...current };
  if (typeof body !== 'object' || body === null) return effective;
  for (const group of Object.keys(current) as RateLimitGroup[]) {
    const values = (body as Record<string, unknown>)[group];
    if (typeof values !== 'object' || values === null) continue;
    const limit = { ...current[group] };
    for (const { field } of WINDOWS) {
      const value = (values as Record<string, unknown>)[field];
      // KSeF writes -1 for "no limit".
      if (value === -1) limit[field] = Infinity;
      else if (typeof value === 'number' && Number.isInteger(value) && value > 0) limit[field] = value;
    }
    effective[group] = limit;
  }
  return effective;
}

const pacers = new Map<string, RatePacer>();
const anonymousWindowsByApi = new Map<string, GroupWindows>();

/** The process-wide pacer of (API root, context), like the process-wide token cache. */
export function ratePacerFor(baseUrl: string, context: ContextIdentifier | undefined): RatePacer {
  const key = `${baseUrl}|${context ? `${context.type}:${context.value}` : '-'}`;
  let pacer = pacers.get(key);
  if (!pacer) {
    let anonymous = anonymousWindowsByApi.get(baseUrl);
    if (!anonymous) anonymousWindowsByApi.set(baseUrl, (anonymous = new GroupWindows()));
    pacers.set(key, (pacer = new RatePacer(anonymous)));
  }
  return pacer;
}
