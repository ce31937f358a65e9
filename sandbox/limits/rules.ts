/** What the limits endpoints report and set (limity/limity-api.md, CIRFMF/ksef-docs; EffectiveApiRateLimits, ApiRateLimitsOverride of open-api.json). */
import type { XmlSizeLimits } from '../../shared/protocol/xml/xmlRules';
import { BYTES_PER_MB, type RateLimit, type RateLimitGroup, type SessionLimits } from './records';

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
  const groups = Object.fromEntries(Object.entries(limits).map(([group, limit]) => [group, reported(limit)])) as Record<
    RateLimitGroup,
    RateLimit
  >;
  return { ...groups, global: { perSecond: -1, perMinute: -1, perHour: -1 } };
}

function finiteOrMinusOne(value: number): number {
  return Number.isFinite(value) ? value : -1;
}

/** The groups `POST /testdata/rate-limits` sets (ApiRateLimitsOverride, open-api.json 2.8.1); the close groups and `anonymous` keep theirs. */
export const OVERRIDABLE_RATE_LIMIT_GROUPS = [
  'onlineSession',
  'batchSession',
  'invoiceSend',
  'invoiceStatus',
  'sessionList',
  'sessionInvoiceList',
  'sessionMisc',
  'invoiceMetadata',
  'invoiceExport',
  'invoiceExportStatus',
  'invoiceDownload',
  'collectiveIdentifier',
  'other',
] as const satisfies readonly RateLimitGroup[];

/** The invoice size limits of a session, in the bytes the XML rules count. */
export function invoiceSizeLimits(limits: SessionLimits): XmlSizeLimits {
  return {
    maxBytes: limits.maxInvoiceSizeInMB * BYTES_PER_MB,
    maxBytesWithAttachment: limits.maxInvoiceWithAttachmentSizeInMB * BYTES_PER_MB,
  };
}
