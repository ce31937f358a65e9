/**
 * The limits each context works under, held per context so that they can change at run time as KSeF's test
 * environment lets them change (`POST/DELETE /testdata/rate-limits`, `/testdata/limits/context/session`;
 * limity/limity.md, limity/limity-api.md, CIRFMF/ksef-docs): API rate limits by group and the session limits.
 */
import type { ContextIdentifier } from '../../shared/protocol/types';
import type { RateLimit, RateLimitGroup } from '../../shared/protocol/model/rateLimits';

export type { RateLimit, RateLimitGroup };

/** One session type's limits (OnlineSessionEffectiveContextLimits / BatchSessionEffectiveContextLimits, open-api.json). */
export interface SessionLimits {
  maxInvoiceSizeInMB: number;
  maxInvoiceWithAttachmentSizeInMB: number;
  maxInvoices: number;
}

/** EffectiveContextLimits of open-api.json. */
export interface ContextLimits {
  onlineSession: SessionLimits;
  batchSession: SessionLimits;
  collectiveIdentifier: { maxInvoices: number };
}

/** KSeF's defaults: 1 MB invoices, 3 MB with attachments, 10 000 invoices a session, 500 a collective identifier (the `GET /limits/context` example of open-api.json; limity/limity.md). */
export const DEFAULT_CONTEXT_LIMITS: ContextLimits = {
  onlineSession: { maxInvoiceSizeInMB: 1, maxInvoiceWithAttachmentSizeInMB: 3, maxInvoices: 10_000 },
  batchSession: { maxInvoiceSizeInMB: 1, maxInvoiceWithAttachmentSizeInMB: 3, maxInvoices: 10_000 },
  collectiveIdentifier: { maxInvoices: 500 },
};

/** KSeF counts sizes in decimal megabytes: its 1 MB limit is 1 000 000 bytes (limity/limity.md). */
export const BYTES_PER_MB = 1_000_000;

/**
 * The limits of every context: the sandbox's defaults (its start options) unless a context has its own. Tests and
 * the test-data endpoints change a context's limits while the sandbox runs; the next request counts under them.
 */
export class LimitStore {
  private readonly rateLimits = new Map<string, Record<RateLimitGroup, RateLimit>>();
  private readonly sessionLimits = new Map<string, ContextLimits>();

  constructor(readonly defaultRateLimits: Readonly<Record<RateLimitGroup, RateLimit>>) {}

  rateLimitsOf(context: ContextIdentifier | undefined): Readonly<Record<RateLimitGroup, RateLimit>> {
    return (context && this.rateLimits.get(contextKey(context))) ?? this.defaultRateLimits;
  }

  /** Replaces the given groups' limits for `context`; the other groups keep theirs. */
  setRateLimits(context: ContextIdentifier, limits: Partial<Record<RateLimitGroup, RateLimit>>): void {
    this.rateLimits.set(contextKey(context), { ...this.rateLimitsOf(context), ...limits });
  }

  resetRateLimits(context: ContextIdentifier): void {
    this.rateLimits.delete(contextKey(context));
  }

  contextLimitsOf(context: ContextIdentifier): ContextLimits {
    return this.sessionLimits.get(contextKey(context)) ?? DEFAULT_CONTEXT_LIMITS;
  }

  /** Replaces the given parts of `context`'s session limits; the other parts keep theirs. */
  setContextLimits(context: ContextIdentifier, limits: Partial<ContextLimits>): void {
    this.sessionLimits.set(contextKey(context), { ...this.contextLimitsOf(context), ...limits });
  }

  resetContextLimits(context: ContextIdentifier): void {
    this.sessionLimits.delete(contextKey(context));
  }
}

function contextKey(context: ContextIdentifier): string {
  return `${context.type}:${context.value}`;
}
