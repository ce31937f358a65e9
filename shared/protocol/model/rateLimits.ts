/**
 * KSeF's API rate limits as published (limity/limity-api.md, CIRFMF/ksef-docs; the `GET /rate-limits` example and
 * x-rate-limits of open-api.json, CIRFMF/ksef-api): the groups requests are counted under and the production values,
 * which the test environment uses too. The engine paces itself by them; the sandbox enforces them.
 */

/** The groups of `GET /rate-limits` (EffectiveApiRateLimits) that requests are counted under. */
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
  /** Unauthenticated endpoints and the auth-operation endpoints: a per-second limit per client IP only. */
  | 'anonymous';

/** Requests allowed in each sliding window; `Infinity` where KSeF sets no limit (it writes -1). */
export interface RateLimit {
  perSecond: number;
  perMinute: number;
  perHour: number;
}

/** Production limits of API 2.8.1. */
export const PUBLISHED_RATE_LIMITS: Readonly<Record<RateLimitGroup, RateLimit>> = {
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
