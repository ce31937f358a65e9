import type { Clock, Sleep } from '../protocol/types';

/** Exponential backoff: 250 ms, 500 ms, 1 s, 2 s, ... capped at `maxMs`. */
export function backoffDelayMs(retry: number, initialMs = 250, maxMs = 5000): number {
  return Math.min(maxMs, initialMs * 2 ** retry);
}

export interface PollOptions {
  clock: Clock;
  sleep: Sleep;
  /** Overall time allowed, measured with the injected clock. */
  timeoutMs: number;
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** The error to throw when the time is up; receives the last value read. Without it the last value is returned. */
  onTimeout?: (last: unknown) => Error;
}

/**
 * Reads `read()` with growing pauses until `isDone` holds or the time allowed is up. The reads go through the
 * transport, which also waits out KSeF's rate limits and Retry-After, so a poll never outpaces them.
 */
export async function pollUntil<T>(read: () => Promise<T>, isDone: (value: T) => boolean, options: PollOptions): Promise<T> {
  const deadline = options.clock.now().getTime() + options.timeoutMs;
  for (let retry = 0; ; retry++) {
    const value = await read();
    if (isDone(value)) return value;
    const remaining = deadline - options.clock.now().getTime();
    if (remaining <= 0) {
      if (options.onTimeout) throw options.onTimeout(value);
      return value;
    }
    await options.sleep(Math.min(remaining, backoffDelayMs(retry, options.initialDelayMs ?? 200, options.maxDelayMs ?? 3000)));
  }
}
