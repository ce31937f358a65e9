/**
 * KSeF rate limits (limity/limity-api.md, CIRFMF/ksef-docs; x-rate-limits of open-api.json, CIRFMF/ksef-api): sliding
 * windows of 1 s, 1 min and 1 h, counted per (context, client IP) and limit group; the first exceeded window answers
 * 429 with `Retry-After`.
 */
import type { Clock } from '../shared/protocol/types';
import { HOUR_MS, MINUTE_MS } from './dates';

/** The groups of `GET /rate-limits` (EffectiveApiRateLimits, open-api.json) that requests are counted under. */
export type RateLimitGroup =
  | 'onlineSession'
  | 'onlineSessionClose'
  | 'batchSession'
  | 'batchSessionClose'
  | 'invoiceSend'
  | 'invoiceStatus'
  | 'sessionList'
  | 'sessionInvoiceList'
  | 'sessionMisc'
  | 'invoiceMetadata'
  | 'invoiceExport'
  | 'invoiceExportStatus'
  | 'invoiceDownload'
  | 'collectiveIdentifier'
  | 'other'
  /** Unauthenticated endpoints and the auth-operation endpoints: counted per client IP and endpoint, whatever the context. */
  | 'anonymous';

/** `Infinity` where KSeF sets no limit (it writes -1). */
export interface RateLimit {
  perSecond: number;
  perMinute: number;
  perHour: number;
}

/** Production values of API 2.8.1 (the `GET /rate-limits` example of open-api.json), which the test environment uses too. */
export const DEFAULT_RATE_LIMITS: Record<RateLimitGroup, RateLimit> = {
  onlineSession: { perSecond: 10, perMinute: 30, perHour: 120 },
  onlineSessionClose: { perSecond: 20, perMinute: 60, perHour: 240 },
  batchSession: { perSecond: 10, perMinute: 20, perHour: 60 },
  batchSessionClose: { perSecond: 20, perMinute: 40, perHour: 120 },
  invoiceSend: { perSecond: 10, perMinute: 30, perHour: 180 },
  invoiceStatus: { perSecond: 30, perMinute: 120, perHour: 1200 },
  sessionList: { perSecond: 5, perMinute: 10, perHour: 60 },
  sessionInvoiceList: { perSecond: 10, perMinute: 20, perHour: 200 },
  sessionMisc: { perSecond: 10, perMinute: 120, perHour: 1200 },
  invoiceMetadata: { perSecond: 8, perMinute: 16, perHour: 20 },
  invoiceExport: { perSecond: 8, perMinute: 16, perHour: 20 },
  invoiceExportStatus: { perSecond: 10, perMinute: 60, perHour: 600 },
  invoiceDownload: { perSecond: 8, perMinute: 16, perHour: 64 },
  collectiveIdentifier: { perSecond: 20, perMinute: 120, perHour: 240 },
  other: { perSecond: 10, perMinute: 30, perHour: 120 },
  anonymous: { perSecond: 60, perMinute: Infinity, perHour: Infinity },
};

/**
 * The `GET /rate-limits` body: every group with -1 for "no limit", and `global`, which open-api.json requires and
 * shows as -1/-1/-1 without saying what it would count, so the sandbox reports it and enforces nothing under it.
 */
export function effectiveRateLimitsBody(limits: Record<RateLimitGroup, RateLimit>): Record<RateLimitGroup | 'global', RateLimit> {
  const reported = (limit: RateLimit): RateLimit => ({
    perSecond: finiteOrMinusOne(limit.perSecond),
    perMinute: finiteOrMinusOne(limit.perMinute),
    perHour: finiteOrMinusOne(limit.perHour),
  });
  const groups = Object.fromEntries(Object.entries(limits).map(([group, limit]) => [group, reported(limit)])) as Record<RateLimitGroup, RateLimit>;
  return { ...groups, global: { perSecond: -1, perMinute: -1, perHour: -1 } };
}

function finiteOrMinusOne(value: number): number {
  return Number.isFinite(value) ? value : -1;
}

const WINDOWS = [
  { ms: 1000, field: 'perSecond', unit: 'sekundę' },
  { ms: MINUTE_MS, field: 'perMinute', unit: 'minutę' },
  { ms: HOUR_MS, field: 'perHour', unit: 'godzinę' },
] as const;

export interface RateLimitRejection {
  retryAfterSeconds: number;
  detail: string;
}

export class RateLimiter {
  private readonly hits = new Map<string, number[]>();

  constructor(private readonly clock: Clock) {}

  /** Counts one request under `key`, or returns why it must be rejected (rejected requests are not counted). */
  take(key: string, limit: RateLimit): RateLimitRejection | undefined {
    const now = this.clock.now().getTime();
    const recent = (this.hits.get(key) ?? []).filter((t) => t > now - HOUR_MS);
    for (const window of WINDOWS) {
      const max = limit[window.field];
      const inWindow = recent.filter((t) => t > now - window.ms);
      if (inWindow.length >= max) {
        this.hits.set(key, recent);
        // The window frees up when the oldest request that keeps it full slides out of it.
        const freedAt = inWindow[inWindow.length - max] + window.ms;
        const retryAfterSeconds = Math.max(1, Math.ceil((freedAt - now) / 1000));
        return {
          retryAfterSeconds,
          detail: `Przekroczono limit ${max} żądań na ${window.unit}. Spróbuj ponownie po ${retryAfterSeconds} ${retryAfterSeconds === 1 ? 'sekundzie' : 'sekundach'}.`,
        };
      }
    }
    recent.push(now);
    this.hits.set(key, recent);
    return undefined;
  }
}
