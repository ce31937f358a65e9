/**
 * KSeF rate limits (limity/limity-api.md, CIRFMF/ksef-docs): sliding windows of 1 s, 1 min and 1 h, counted per (context, client IP)
 * and limit group; the first exceeded window answers 429 with `Retry-After`.
 */
import type { Clock } from '../shared/protocol/types';
import { HOUR_MS, MINUTE_MS } from './dates';

export type RateLimitGroup =
  | 'onlineSession'
  | 'batchSession'
  | 'invoiceSend'
  | 'invoiceStatus'
  | 'sessionList'
  | 'sessionInvoiceList'
  | 'sessionMisc'
  | 'invoiceMetadata'
  | 'invoiceExport'
  | 'invoiceExportStatus'
  | 'invoiceDownload'
  | 'other';

export interface RateLimit {
  perSecond: number;
  perMinute: number;
  perHour: number;
}

/** Production values, which the test environment has used since API 2.5.0. */
export const DEFAULT_RATE_LIMITS: Record<RateLimitGroup, RateLimit> = {
  onlineSession: { perSecond: 10, perMinute: 30, perHour: 120 },
  batchSession: { perSecond: 10, perMinute: 20, perHour: 60 },
  invoiceSend: { perSecond: 10, perMinute: 30, perHour: 180 },
  invoiceStatus: { perSecond: 30, perMinute: 120, perHour: 1200 },
  sessionList: { perSecond: 5, perMinute: 10, perHour: 60 },
  sessionInvoiceList: { perSecond: 10, perMinute: 20, perHour: 200 },
  sessionMisc: { perSecond: 10, perMinute: 120, perHour: 1200 },
  invoiceMetadata: { perSecond: 8, perMinute: 16, perHour: 20 },
  invoiceExport: { perSecond: 8, perMinute: 16, perHour: 20 },
  invoiceExportStatus: { perSecond: 10, perMinute: 60, perHour: 600 },
  invoiceDownload: { perSecond: 8, perMinute: 16, perHour: 64 },
  other: { perSecond: 10, perMinute: 30, perHour: 120 },
};

/** Public endpoints and the auth-operation endpoints have only a per-second limit, per client IP. */
export const PUBLIC_RATE_LIMIT: RateLimit = { perSecond: 60, perMinute: Infinity, perHour: Infinity };

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
