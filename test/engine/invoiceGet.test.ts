/**
 * `client.invoices.get` (shared/invoices/download.ts) against the sandbox's `GET /invoices/ksef/{ksefNumber}`: the
 * original bytes with their hash checked against `x-ms-meta-hash`, 21165 ("not yet available") asked again with
 * backoff on the test clock until it is available or the wait is up, 21164, and a bad KSeF number refused before
 * any request.
 */
import { buildDemoInvoice } from '../../sandbox/samples/demoInvoice';
import { KsefInputError, KsefNotFoundError, type KsefClient } from '../../shared';
import { sha256Base64 } from '../../shared/protocol/crypto/hashes';
import { formatKsefNumber } from '../../shared/protocol/model/ksefNumber';
import { KsefIntegrityError } from '../../shared/storage/storageClient';
import { collect } from './support/collect';
import { startFaultProxy, type FaultProxy } from './support/faultProxy';
import { clientOf, startRecordedSandbox, type RecordedSandbox } from './support/sandbox';
import { ManualClock } from './support/time';

const GET = 'GET /invoices/ksef/{ksefNumber}';
/**
 * Room in the download and query groups (64 and 20 an hour in production): the engine's pacer is one per API and context for the
 * process, and the clients here run on different clocks.
 */
const ROOMY = { perSecond: 100, perMinute: 1000, perHour: 10000 };

describe('one invoice by KSeF number', () => {
  let sandbox: RecordedSandbox;
  let client: KsefClient;
  let xml: string;
  let ksefNumber: string;

  beforeAll(async () => {
    sandbox = await startRecordedSandbox({ rateLimits: { invoiceDownload: ROOMY, invoiceMetadata: ROOMY } });
    client = clientOf(sandbox);
    xml = buildDemoInvoice({ invoiceNumber: 'FV/G/1' });
    const sent = await client.sessions.online.send([xml], { fetchUpo: false });
    ksefNumber = sent.invoices[0].ksefNumber!;
    while (!sandbox.state.invoicesByKsefNumber.get(ksefNumber)?.invoice.permanentStorageDate) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  });
  afterAll(async () => {
    await client.close();
    await sandbox.close();
  });

  /** Makes the invoice "accepted but not yet in permanent storage" (21165) until the returned function is called. */
  function holdPermanentStorage(): () => void {
    const { invoice } = sandbox.state.invoicesByKsefNumber.get(ksefNumber)!;
    const stored = invoice.permanentStorageDate;
    invoice.permanentStorageDate = undefined;
    return () => {
      invoice.permanentStorageDate = stored;
    };
  }

  it('gives the original bytes, their SHA-256 the x-ms-meta-hash KSeF sent; the KSeF number may be lower-case', async () => {
    const before = sandbox.count(GET);
    const invoice = await client.invoices.get(` ${ksefNumber.toLowerCase()} `);

    expect(invoice.ksefNumber).toBe(ksefNumber);
    expect(Buffer.isBuffer(invoice.xml)).toBe(true);
    expect(invoice.xml.equals(Buffer.from(xml, 'utf8'))).toBe(true);
    expect(invoice.sha256).toBe(sha256Base64(Buffer.from(xml, 'utf8')));
    const [exchange] = sandbox.exchanges.filter((e) => e.operation === GET).slice(before);
    expect(exchange.responseHeaders['x-ms-meta-hash']).toBe(invoice.sha256);
    expect(exchange.requestHeaders.accept).toMatch(/application\/xml/);
  });

  it("gives the buyer an invoice another seller issued to it, its hash the metadata's invoiceHash", async () => {
    const [received] = sandbox.seedReceived(1);
    const [metadata] = await collect(
      client.invoices.query({ subjectType: 'Subject2', dateRange: { dateType: 'PermanentStorage', from: new Date(Date.now() - 60_000) } }),
    );
    expect(metadata.ksefNumber).toBe(received);

    const invoice = await client.invoices.get(received);

    expect(invoice.sha256).toBe(metadata.invoiceHash);
    expect(invoice.xml.toString('utf8')).toContain(`<P_2>${metadata.invoiceNumber}</P_2>`);
  });

  it('asks again with backoff while KSeF says 21165, and gives the invoice once it is available', async () => {
    const clock = new ManualClock();
    let release = () => {};
    const sleep = async (ms: number) => {
      await clock.sleep(ms);
      // KSeF stores the invoice while the client waits for the second time.
      if (clock.sleeps.length === 2) release();
    };
    const patient = clientOf(sandbox, { clock, sleep });
    await patient.authenticate();
    clock.sleeps.length = 0;
    release = holdPermanentStorage();
    const before = sandbox.count(GET);
    try {
      const invoice = await patient.invoices.get(ksefNumber);
      expect(invoice.xml.equals(Buffer.from(xml, 'utf8'))).toBe(true);
    } finally {
      release();
      await patient.close();
    }
    const answers = sandbox.exchanges.filter((e) => e.operation === GET).slice(before);
    expect(answers.map((e) => e.status)).toEqual([400, 400, 200]);
    expect(answers.slice(0, 2).map((e) => JSON.parse(e.responseBody.toString()).exception.exceptionDetailList[0].exceptionCode)).toEqual([
      21165, 21165,
    ]);
    expect(clock.sleeps).toEqual([1000, 2000]);
  });

  it('gives up after maxWaitMs with an error saying the invoice is not available yet and when to try again', async () => {
    const clock = new ManualClock();
    const patient = clientOf(sandbox, { clock, sleep: clock.sleep });
    await patient.authenticate();
    clock.sleeps.length = 0;
    const release = holdPermanentStorage();
    const before = sandbox.count(GET);
    try {
      const failure = await patient.invoices.get(ksefNumber, { maxWaitMs: 10_000 }).catch((e: unknown) => e);
      expect(failure).toBeInstanceOf(KsefNotFoundError);
      expect(failure).toMatchObject({ code: 21165, field: 'ksefNumber' });
      expect((failure as Error).message).toMatch(
        new RegExp(`accepted invoice ${ksefNumber} but has not made it available.*after 10 s.*try again after \\d{4}-\\d\\d-\\d\\dT`),
      );
    } finally {
      release();
      await patient.close();
    }
    // 1 + 2 + 4 s, then what is left of the 10 s allowed (3 s less the real time the requests took): all on the test clock.
    expect(clock.sleeps.slice(0, 3)).toEqual([1000, 2000, 4000]);
    expect(clock.sleeps[3]).toBeGreaterThan(2000);
    expect(clock.sleeps[3]).toBeLessThanOrEqual(3000);
    expect(clock.sleeps).toHaveLength(4);
    expect(sandbox.count(GET) - before).toBe(5);
  });

  it('says KSeF has no such invoice (21164), naming the number', async () => {
    const unknown = formatKsefNumber(sandbox.contextIdentifier.value, new Date(), 'ABCDEF012345');
    const failure = await client.invoices.get(unknown).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(KsefNotFoundError);
    expect(failure).toMatchObject({ code: 21164, field: 'ksefNumber' });
    expect((failure as Error).message).toContain(`no invoice ${unknown} for this context (21164)`);
  });

  it('refuses a malformed KSeF number or maxWaitMs before any request', async () => {
    const before = sandbox.exchanges.length;
    // A checksum other than the number's own (a fixed '00' is the right one for 1 number in 256).
    const wrongChecksum = ksefNumber.endsWith('00') ? 'FF' : '00';
    const badNumber = await client.invoices.get(ksefNumber.slice(0, -2) + wrongChecksum).catch((e: unknown) => e);
    expect(badNumber).toBeInstanceOf(KsefInputError);
    expect(badNumber).toMatchObject({ field: 'ksefNumber' });
    const badWait = await client.invoices.get(ksefNumber, { maxWaitMs: -1 }).catch((e: unknown) => e);
    expect(badWait).toMatchObject({ name: 'KsefInputError', field: 'options.maxWaitMs' });
    expect(sandbox.exchanges.length).toBe(before);
  });

  describe('bytes that do not have the announced hash', () => {
    let proxy: FaultProxy;
    let proxied: KsefClient;
    const damaged = (): Parameters<FaultProxy['inject']>[1] => ({
      kind: 'replaceAnswer',
      status: 200,
      headers: { 'content-type': 'application/xml', 'x-ms-meta-hash': sha256Base64(Buffer.from(xml, 'utf8')) },
      body: xml.replace('FV/G/1', 'FV/G/7'),
    });
    const isGet = (request: { method: string; path: string }) => request.method === 'GET' && request.path.startsWith('/invoices/ksef/');

    beforeEach(async () => {
      proxy = await startFaultProxy(sandbox.baseUrl);
      proxied = clientOf(sandbox, { baseUrl: proxy.baseUrl });
    });
    afterEach(async () => {
      await proxied.close();
      await proxy.close();
    });

    it('are downloaded again once, and the good copy is given', async () => {
      proxy.inject(isGet, damaged(), 1);
      const invoice = await proxied.invoices.get(ksefNumber);
      expect(invoice.xml.toString('utf8')).toBe(xml);
      expect(proxy.count('GET', /^\/invoices\/ksef\//)).toBe(2);
    });

    it('twice in a row are never delivered: KsefIntegrityError names the invoice and both hashes', async () => {
      proxy.inject(isGet, damaged(), 2);
      const failure = await proxied.invoices.get(ksefNumber).catch((e: unknown) => e);
      expect(failure).toBeInstanceOf(KsefIntegrityError);
      expect((failure as Error).message).toContain(`The XML of invoice ${ksefNumber}`);
      expect((failure as Error).message).toContain(`not the ${sha256Base64(Buffer.from(xml, 'utf8'))} KSeF announced in x-ms-meta-hash`);
      expect(proxy.count('GET', /^\/invoices\/ksef\//)).toBe(2);
    });
  });
});
