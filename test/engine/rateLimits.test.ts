import { buildDemoInvoice } from '../../sandbox/samples/demoInvoice';
import { isValidKsefNumber } from '../../shared/protocol/model/ksefNumber';
import type { Clock, KsefClient, Sleep } from '../../shared';
import type { SandboxExchange } from '../../sandbox';
import { clientOf, startRecordedSandbox, type RecordedSandbox } from './support/sandbox';

const SEND = 'POST /sessions/online/{referenceNumber}/invoices';
const LIST = 'GET /sessions/{referenceNumber}/invoices';
const SINGLE_STATUS = 'GET /sessions/{referenceNumber}/invoices/{invoiceReferenceNumber}';
const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;

/**
 * Virtual time for the client and the sandbox alike (so the sandbox's rate-limit windows slide with it). A sleep
 * lets a tenth of its time pass in real time (so requests in flight arrive first) and then moves the clock to the
 * moment it was asked to wake at: concurrent sleeps overlap as real ones do instead of adding up.
 */
class VirtualClock implements Clock {
  readonly sleeps: number[] = [];
  private offsetMs = 0;

  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }

  readonly sleep: Sleep = async (ms) => {
    this.sleeps.push(ms);
    const wakeAt = this.now().getTime() + ms;
    await new Promise((resolve) => setTimeout(resolve, Math.min(ms / 10, 1000)));
    this.offsetMs = Math.max(this.offsetMs, wakeAt - Date.now());
  };
}

function invoices(count: number, tag: string): string[] {
  return Array.from({ length: count }, (_, i) => buildDemoInvoice({ invoiceNumber: `FV/2026/${tag}/${i + 1}`, lines: 1 }));
}

/** When (virtual time) the sandbox answered each exchange. */
const answeredAt = new WeakMap<SandboxExchange, number>();

function stampExchanges(sandbox: RecordedSandbox, clock: Clock): void {
  const record = sandbox.exchanges.push.bind(sandbox.exchanges);
  sandbox.exchanges.push = (...exchanges: SandboxExchange[]) => {
    for (const exchange of exchanges) answeredAt.set(exchange, clock.now().getTime());
    return record(...exchanges);
  };
}

/** The most requests of `operation` the sandbox answered within any window of `windowMs`. */
function busiestWindow(sandbox: RecordedSandbox, operation: string, windowMs: number): number {
  const times = sandbox.exchanges.filter((e) => e.operation === operation).map((e) => answeredAt.get(e)!);
  return Math.max(0, ...times.map((start) => times.filter((t) => t >= start && t < start + windowMs).length));
}

describe('client-side pacing by KSeF rate limits (sandbox at production limits, virtual time)', () => {
  let clock: VirtualClock;
  let sandbox: RecordedSandbox;
  let client: KsefClient;

  beforeEach(async () => {
    clock = new VirtualClock();
    // Without the official XSDs the sandbox checks an invoice in microseconds, so its answers arrive in virtual time.
    sandbox = await startRecordedSandbox({ clock, specDir: null });
    stampExchanges(sandbox, clock);
    client = clientOf(sandbox, { clock, sleep: clock.sleep });
  });
  afterEach(async () => {
    await client.close();
    await sandbox.close();
  });

  it('sends 100 invoices in one call: all get KSeF numbers, no 429, statuses read through the session invoice list', async () => {
    const startedAt = clock.now().getTime();
    const result = await client.sessions.online.send(invoices(100, 'PACE'), { fetchUpo: false, waitForProcessingMs: 30 * MINUTE_MS });

    expect(result.invoices.filter((r) => !r.accepted).map((r) => r.error ?? r.status)).toEqual([]);
    expect(result.invoices.every((r) => isValidKsefNumber(r.ksefNumber!))).toBe(true);
    expect(new Set(result.invoices.map((r) => r.ksefNumber)).size).toBe(100);
    expect(sandbox.exchanges.filter((e) => e.status === 429)).toEqual([]);
    expect(sandbox.count(SEND)).toBe(100);
    // 30 a minute: the last of 100 goes in the fourth minute.
    expect(busiestWindow(sandbox, SEND, MINUTE_MS)).toBeLessThanOrEqual(30);
    const elapsedMinutes = (clock.now().getTime() - startedAt) / MINUTE_MS;
    expect(elapsedMinutes).toBeGreaterThan(3);
    // Statuses come from list pages (up to 1000 invoices each), never invoice by invoice, within the list's limits.
    expect(sandbox.count(SINGLE_STATUS)).toBe(0);
    expect(sandbox.count(LIST)).toBeGreaterThanOrEqual(1);
    expect(busiestWindow(sandbox, LIST, MINUTE_MS)).toBeLessThanOrEqual(20);
    expect(busiestWindow(sandbox, LIST, HOUR_MS)).toBeLessThanOrEqual(200);
    expect(result.sessionStatus?.code).toBe(200);
  }, 240_000);

  it('returns the invoices that cannot go before the send deadline as not sent, each named, with retryAt', async () => {
    const startedAt = clock.now().getTime();
    const result = await client.sessions.online.send(invoices(34, 'DEADLINE'), { fetchUpo: false, sendDeadlineMs: 20_000 });

    const sent = result.invoices.filter((r) => r.referenceNumber);
    const unsent = result.invoices.filter((r) => !r.referenceNumber);
    expect(sent).toHaveLength(30);
    expect(sent.every((r) => r.accepted)).toBe(true);
    // Invoices go in input order, so the ones left are the last: retrying means sending from invoices[30] on.
    expect(unsent.map((r) => r.index)).toEqual([30, 31, 32, 33]);
    for (const invoice of unsent) {
      const retryAt = String(invoice.error!.retryAt);
      expect(invoice.error).toMatchObject({ name: 'KsefRateLimitError', field: `invoices[${invoice.index}]` });
      expect(String(invoice.error!.message)).toBe(
        `invoices[${invoice.index}] not sent; retry after ${retryAt}. KSeF's rate limits leave no room for it before the send deadline (options.sendDeadlineMs).`,
      );
      // The minute window of the first sends frees up about a minute after they went.
      expect(Date.parse(retryAt)).toBeGreaterThan(startedAt + 20_000);
      expect(Date.parse(retryAt)).toBeLessThan(startedAt + 2 * MINUTE_MS);
    }
    expect(sandbox.count(SEND)).toBe(30);
    expect(sandbox.exchanges.filter((e) => e.status === 429)).toEqual([]);
    // The sending phase ended at the deadline without waiting for the minute window.
    expect(clock.sleeps.some((ms) => ms > 20_000)).toBe(false);
  }, 120_000);

  it('shares the rate windows between clients of the same context, as n8n builds a client per execution', async () => {
    const first = await client.sessions.online.send(invoices(30, 'SHARED-A'), { fetchUpo: false });
    const second = clientOf(sandbox, { clock, sleep: clock.sleep });
    const later = await second.sessions.online.send(invoices(3, 'SHARED-B'), { fetchUpo: false });
    await second.close();

    expect([...first.invoices, ...later.invoices].every((r) => r.accepted)).toBe(true);
    expect(sandbox.exchanges.filter((e) => e.status === 429)).toEqual([]);
    expect(busiestWindow(sandbox, SEND, MINUTE_MS)).toBeLessThanOrEqual(30);
    // The second client read the context's limits from the pacer it shares: KSeF was asked once.
    expect(sandbox.count('GET /rate-limits')).toBe(1);
  }, 120_000);

  it.each([
    ['waitForProcessingMs', 'abc', 'a string'],
    ['waitForProcessingMs', -1, '-1'],
    ['waitForProcessingMs', Number.NaN, 'NaN'],
    ['sendDeadlineMs', Number.POSITIVE_INFINITY, 'Infinity'],
    ['sendDeadlineMs', '60000', 'a string'],
  ])('rejects options.%s = %p before sending anything', async (option, value, described) => {
    const error = await client.sessions.online.send(invoices(1, 'OPTION'), { [option]: value } as never).catch((e: unknown) => e);

    expect(error).toMatchObject({
      name: 'KsefInputError',
      field: `options.${option}`,
      message: `options.${option} must be a number of milliseconds, 0 or more (got ${described}).`,
    });
    expect(sandbox.exchanges).toHaveLength(0);
  });
});

describe("pacing by the context's effective limits (GET /rate-limits of API 2.8.1)", () => {
  const CLOSE = 'POST /sessions/online/{referenceNumber}/close';

  it('paces closing sessions by the onlineSessionClose group KSeF reports, apart from opening them', async () => {
    const clock = new VirtualClock();
    // A context whose closes are limited tighter than the published 20/60/240, and opens left at theirs.
    const sandbox = await startRecordedSandbox({
      clock,
      specDir: null,
      rateLimits: { onlineSessionClose: { perSecond: 1, perMinute: 2, perHour: 100 } },
    });
    stampExchanges(sandbox, clock);
    // A close waits for its group's minute window (without a deadline a request waits up to maxRetryAfterMs).
    const client = clientOf(sandbox, { clock, sleep: clock.sleep, maxRetryAfterMs: 2 * MINUTE_MS });
    try {
      for (const tag of ['CLOSE-A', 'CLOSE-B', 'CLOSE-C']) {
        const result = await client.sessions.online.send(invoices(1, tag), { fetchUpo: false });
        expect(result.sessionStatus?.code).toBe(200);
      }
      expect(sandbox.count(CLOSE)).toBe(3);
      expect(sandbox.exchanges.filter((e) => e.status === 429)).toEqual([]);
      expect(busiestWindow(sandbox, CLOSE, MINUTE_MS)).toBeLessThanOrEqual(2);
    } finally {
      await client.close();
      await sandbox.close();
    }
  }, 120_000);
});
