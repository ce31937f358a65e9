/**
 * KSeF rate limiting (limity/limity-api.md, CIRFMF/ksef-docs; x-rate-limits of open-api.json, CIRFMF/ksef-api): sliding
 * windows of 1 s, 1 min and 1 h, counted per (context, client IP) and limit group; the first exceeded window answers
 * 429 with `Retry-After`. The limits themselves are the context's (limits/records.ts).
 */
import type { Clock } from '../../shared/protocol/types';
import { PROBLEM_DETAILS } from '../catalogue';
import { HOUR_MS, MINUTE_MS } from '../dates';
import type { RateLimit } from '../limits/records';

const WINDOWS = [
  { ms: 1000, field: 'perSecond' },
  { ms: MINUTE_MS, field: 'perMinute' },
  { ms: HOUR_MS, field: 'perHour' },
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
        return { retryAfterSeconds, detail: PROBLEM_DETAILS.tooManyRequests(max, window.field, retryAfterSeconds) };
      }
    }
    recent.push(now);
    this.hits.set(key, recent);
    return undefined;
  }
}
