import { buildDemoInvoice } from '../../sandbox/samples/demoInvoice';
import { isValidKsefNumber } from '../../shared/protocol/model/ksefNumber';
import { readUpoDocuments } from '../../shared/protocol/xml/upo';
import type { KsefClient } from '../../shared';
import { clientOf, startRecordedSandbox, type RecordedSandbox } from './support/sandbox';
import { startFaultProxy, type Fault, type FaultProxy, type ProxiedRequest } from './support/faultProxy';
import { ManualClock } from './support/time';

const INVOICE_SEND = /^\/sessions\/online\/[^/]+\/invoices$/;
const SANDBOX_SEND = 'POST /sessions/online/{referenceNumber}/invoices';
const isInvoiceSend = (r: ProxiedRequest) => r.method === 'POST' && INVOICE_SEND.test(r.path);
const HTML_PAGE = '<!DOCTYPE html><html><head><title>Just a moment...</title></head><body>Checking your browser</body></html>';

describe('faults around sending invoices (sandbox behind a fault proxy)', () => {
  let sandbox: RecordedSandbox;
  let proxy: FaultProxy;
  let clock: ManualClock;
  let client: KsefClient;

  beforeEach(async () => {
    clock = new ManualClock();
    // Without the official XSDs the sandbox verifies an invoice at once, as fast as the virtual clock runs.
    sandbox = await startRecordedSandbox({ clock, specDir: null });
    proxy = await startFaultProxy(sandbox.baseUrl);
    client = clientOf(sandbox, { baseUrl: proxy.baseUrl, clock, sleep: clock.sleep });
  });
  afterEach(async () => {
    await client.close();
    await proxy.close();
    await sandbox.close();
  });

  /** UPO links of list pages and session statuses lead through the proxy, so faults can be put on storage too. */
  function storageThroughProxy(): void {
    const proxyOrigin = new URL(proxy.baseUrl).origin;
    const sandboxOrigin = new URL(sandbox.baseUrl).origin;
    proxy.inject(
      (r) => r.method === 'GET' && /^\/sessions\/[^/]+(\/invoices)?$/.test(r.path),
      { kind: 'rewriteJson', change: (body) => JSON.parse(JSON.stringify(body).split(sandboxOrigin).join(proxyOrigin)) },
      1000,
    );
  }

  const processedThenLost: [string, Fault][] = [
    ['a 502 from a gateway', { kind: 'replaceAnswer', status: 502, body: '<html><body>502 Bad Gateway</body></html>' }],
    ['a 504 from a gateway', { kind: 'replaceAnswer', status: 504, body: '<html><body>504 Gateway Time-out</body></html>' }],
    ['a 200 whose body is not JSON', { kind: 'replaceAnswer', status: 200, body: HTML_PAGE }],
  ];

  it.each(processedThenLost)(
    'finds an invoice KSeF processed but answered with %s in the session list: KSeF number, no duplicate',
    async (_what, fault) => {
      proxy.inject(isInvoiceSend, fault);

      const result = await client.sessions.online.send([buildDemoInvoice({ invoiceNumber: 'FV/2026/GW/1' })]);

      const [invoice] = result.invoices;
      expect(invoice.error).toBeUndefined();
      expect(invoice).toMatchObject({ accepted: true, status: { code: 200 } });
      expect(isValidKsefNumber(invoice.ksefNumber!)).toBe(true);
      expect(invoice.resolvedFromDuplicate).toBeUndefined();
      expect(sandbox.count(SANDBOX_SEND)).toBe(1);
      expect(readUpoDocuments(result.sessionUpo![0].upo).map((d) => d.ksefNumber)).toEqual([invoice.ksefNumber]);
    },
  );

  it('reports an invoice a gateway refused before KSeF saw it as failed, named, after looking for it in the session', async () => {
    proxy.inject(isInvoiceSend, { kind: 'respond', status: 502, body: '<html>502 Bad Gateway</html>' });

    const result = await client.sessions.online.send([buildDemoInvoice({ invoiceNumber: 'FV/2026/GW/2' })]);

    expect(result.invoices[0]).toMatchObject({ accepted: false, error: { name: 'KsefServerError', status: 502, field: 'invoices[0]' } });
    expect(proxy.count('GET', /^\/sessions\/[^/]+\/invoices$/)).toBeGreaterThanOrEqual(1);
    // A 5xx POST is not repeated blindly: a second copy would only come back as a duplicate.
    expect(proxy.count('POST', INVOICE_SEND)).toBe(1);
    expect(sandbox.count(SANDBOX_SEND)).toBe(0);
  });

  it('names the invoice in errors from 5xx that persist, and sends the others', async () => {
    proxy.inject(isInvoiceSend, { kind: 'respond', status: 503, body: { title: 'Service Unavailable', status: 503 } });

    const result = await client.sessions.online.send([
      buildDemoInvoice({ invoiceNumber: 'FV/2026/5XX/1' }),
      buildDemoInvoice({ invoiceNumber: 'FV/2026/5XX/2' }),
    ]);

    const failed = result.invoices.filter((r) => r.error);
    expect(failed).toHaveLength(1);
    const { index, error } = failed[0];
    expect(error).toMatchObject({ name: 'KsefServerError', status: 503, field: `invoices[${index}]` });
    expect(String(error!.message)).toMatch(new RegExp(`^invoices\\[${index}\\] could not be sent: KSeF failed on POST /sessions/online/`));
    expect(result.invoices.filter((r) => r.accepted)).toHaveLength(1);
  });

  it('waits out a Retry-After longer than 30 s when the send deadline allows it', async () => {
    proxy.inject(isInvoiceSend, {
      kind: 'respond',
      status: 429,
      headers: { 'retry-after': '90' },
      body: { status: { code: 429, description: 'Too Many Requests' } },
    });

    const result = await client.sessions.online.send([buildDemoInvoice({ invoiceNumber: 'FV/2026/429/1' })], { fetchUpo: false });

    expect(result.invoices[0].accepted).toBe(true);
    expect(clock.sleeps).toContain(90_000);
    expect(proxy.count('POST', INVOICE_SEND)).toBe(2);
  });

  it('reports an invoice that KSeF lets go only after the send deadline as not sent, named, with retryAt', async () => {
    proxy.inject(isInvoiceSend, {
      kind: 'respond',
      status: 429,
      headers: { 'retry-after': '3600' },
      body: { status: { code: 429, description: 'Too Many Requests' } },
    });
    const before = clock.now().getTime();

    const result = await client.sessions.online.send([buildDemoInvoice({ invoiceNumber: 'FV/2026/429/2' })], { sendDeadlineMs: 60_000 });

    const [invoice] = result.invoices;
    expect(invoice).toMatchObject({
      accepted: false,
      pending: false,
      error: { name: 'KsefRateLimitError', status: 429, field: 'invoices[0]' },
    });
    const retryAt = Date.parse(String(invoice.error!.retryAt));
    expect(retryAt).toBeGreaterThanOrEqual(before + 3_600_000);
    expect(invoice.error!.message).toBe(
      `invoices[0] not sent; retry after ${invoice.error!.retryAt}. KSeF refused it (429) and asks to wait until then, past the send deadline (options.sendDeadlineMs).`,
    );
    expect(sandbox.count(SANDBOX_SEND)).toBe(0);
    expect(clock.sleeps.some((ms) => ms >= 60_000)).toBe(false);
  });

  it('reports every invoice as not sent, named, with retryAt, when no session can be opened before the send deadline', async () => {
    proxy.inject((r) => r.method === 'POST' && r.path === '/sessions/online', {
      kind: 'respond',
      status: 429,
      headers: { 'retry-after': '600' },
      body: { status: { code: 429, description: 'Too Many Requests' } },
    });

    const result = await client.sessions.online.send(
      [buildDemoInvoice({ invoiceNumber: 'FV/2026/OPEN/1' }), 'not an invoice', buildDemoInvoice({ invoiceNumber: 'FV/2026/OPEN/2' })],
      { sendDeadlineMs: 60_000 },
    );

    expect(result.sessionReferenceNumber).toBe('');
    expect(result.invoices.map((r) => [r.error?.name, r.error?.field])).toEqual([
      ['KsefRateLimitError', 'invoices[0]'],
      ['KsefInputError', 'invoices[1]'],
      ['KsefRateLimitError', 'invoices[2]'],
    ]);
    for (const i of [0, 2])
      expect(String(result.invoices[i].error!.message)).toMatch(new RegExp(`^invoices\\[${i}\\] not sent; retry after \\d{4}-`));
    expect(sandbox.count('POST /sessions/online')).toBe(0);
  });

  it('never keeps an HTML page as a UPO: tries the API instead and keeps the real UPO', async () => {
    storageThroughProxy();
    proxy.inject(
      (r) => r.path.startsWith('/storage/'),
      { kind: 'respond', status: 200, headers: { 'content-type': 'text/html' }, body: HTML_PAGE },
      1000,
    );

    const result = await client.sessions.online.send([buildDemoInvoice({ invoiceNumber: 'FV/2026/UPO/1' })]);

    const [invoice] = result.invoices;
    expect(invoice.accepted).toBe(true);
    expect(invoice.upoError).toBeUndefined();
    expect(readUpoDocuments(invoice.upo!)[0]).toMatchObject({ ksefNumber: invoice.ksefNumber, invoiceHash: invoice.invoiceHash });
    expect(result.sessionUpoError).toBeUndefined();
    expect(readUpoDocuments(result.sessionUpo![0].upo).map((d) => d.ksefNumber)).toEqual([invoice.ksefNumber]);
    expect(proxy.count('GET', /^\/storage\//)).toBe(2);
  });

  it('reports a UPO that no source gives as XML clearly and stores no HTML as the invoice or the session UPO', async () => {
    storageThroughProxy();
    const html = { kind: 'respond', status: 200, headers: { 'content-type': 'text/html' }, body: HTML_PAGE } as const;
    proxy.inject((r) => r.path.startsWith('/storage/') || /\/upo(\/[^/]+)?$/.test(r.path), html, 1000);

    const result = await client.sessions.online.send([buildDemoInvoice({ invoiceNumber: 'FV/2026/UPO/2' })]);

    const [invoice] = result.invoices;
    expect(invoice.accepted).toBe(true);
    expect(invoice.upo).toBeUndefined();
    expect(invoice.upoError).toMatchObject({ name: 'KsefError', field: 'invoices[0]' });
    expect(String(invoice.upoError!.message)).toMatch(
      new RegExp(
        `^The UPO of invoices\\[0\\] \\(KSeF number ${invoice.ksefNumber}\\) could not be obtained: the storage link did not answer with this UPO \\(the root element is html, not a UPO's Potwierdzenie\\)`,
      ),
    );
    expect(result.sessionUpo).toEqual([]);
    expect(String(result.sessionUpoError!.message)).toMatch(
      /^The session UPO of \S+ could not be obtained \(page \S+: the storage link did not answer with this UPO/,
    );
    expect(JSON.stringify(result)).not.toContain('Checking your browser');
    // Each source was tried again after a pause before giving up.
    expect(proxy.count('GET', /^\/storage\//)).toBe(2 * 3);
  });
});
