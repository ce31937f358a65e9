/**
 * Invoice exports over HTTP (`POST /invoices/exports`, `GET /invoices/exports/{referenceNumber}`, the part links):
 * packages unpacked with yauzl and tar-stream, every part's hashes and sizes checked and decrypted here, truncation,
 * the concurrency limit, the failure statuses, expiry and the test switches; every answer checked against open-api.json.
 */
import { createGunzip } from 'node:zlib';
import { Readable } from 'node:stream';
import * as tar from 'tar-stream';
import * as yauzl from 'yauzl';
import { aesDecrypt, newSymmetricKey, type SymmetricKey } from '../../shared/protocol/crypto/aes';
import { sha256Base64 } from '../../shared/protocol/crypto/hashes';
import { isValidReferenceNumber } from '../../shared/protocol/model/referenceNumber';
import { startSandbox, type SandboxHandle } from '../../sandbox';
import { DEFAULT_EXPORT_LIMITS } from '../../sandbox/invoices/exportRecords';
import { buildDemoInvoice } from '../../sandbox/samples/demoInvoice';
import { ContractRecorder } from '../support/contract';
import { KsefHttp, RELAXED_RATE_LIMITS, encryptWithCertificate, exceptionOf, pollUntil, sendInvoiceBody } from '../support/ksefHttp';

const UNLIMITED = { perSecond: 10_000, perMinute: 100_000, perHour: 1_000_000 };
const DAY_MS = 86_400_000;

const recorder = new ContractRecorder();
let sandbox: SandboxHandle;
let http: KsefHttp;
let accessToken: string;
/** The invoices sent for these tests, in the order KSeF stored them. */
const sent: { ksefNumber: string; xml: Buffer; issueDate: string }[] = [];
const since = new Date(Date.now() - 60_000).toISOString();

beforeAll(async () => {
  sandbox = await startSandbox({
    processingDelayMs: 5,
    hwmDelayMs: 0,
    rateLimits: { ...RELAXED_RATE_LIMITS, invoiceExport: UNLIMITED, invoiceExportStatus: UNLIMITED, invoiceMetadata: UNLIMITED },
    onExchange: recorder.record,
  });
  http = new KsefHttp(sandbox.baseUrl);
  ({ accessToken } = await http.authenticate(sandbox.ksefToken, sandbox.contextIdentifier));
  // Issue dates run backwards while storage dates run forwards, so each date type has its own order.
  const session = await http.openOnlineSession(accessToken);
  for (let i = 0; i < 5; i++) {
    const issueDate = new Date(Date.now() - i * DAY_MS).toISOString().slice(0, 10);
    const xml = Buffer.from(buildDemoInvoice({ issueDate, invoiceNumber: `FV/EXPORT/${i}` }), 'utf8');
    const answer = await http.sendInvoice(accessToken, session.referenceNumber, sendInvoiceBody(xml, session.key));
    const result = await http.invoiceResult(accessToken, session.referenceNumber, answer.json.referenceNumber);
    expect(result.status.code).toBe(200);
    sent.push({ ksefNumber: result.ksefNumber, xml, issueDate });
  }
  await pollUntil(
    async () => sent.every((s) => sandbox.state.invoicesByKsefNumber.get(s.ksefNumber)?.invoice.permanentStorageDate),
    (stored) => stored,
  );
});

afterAll(async () => {
  await sandbox.close();
});

afterEach(() => {
  Object.assign(sandbox.state.invoiceExports.limits, DEFAULT_EXPORT_LIMITS);
  sandbox.holdExports(false);
});

type Filters = Record<string, unknown>;

const permanentStorageFilters = (extra: Filters = {}): Filters => ({
  subjectType: 'Subject1',
  dateRange: { dateType: 'PermanentStorage', from: since, ...extra },
});

/** `POST /invoices/exports` with a fresh key wrapped for the sandbox's SymmetricKeyEncryption key. */
async function requestExport(
  body: Filters = {},
  options: { bearer?: string; wrapWith?: 'KsefTokenEncryption' } = {},
): Promise<{ answer: Awaited<ReturnType<KsefHttp['request']>>; key: SymmetricKey; referenceNumber: string }> {
  const key = newSymmetricKey();
  const symmetric = await http.publicKey('SymmetricKeyEncryption');
  const wrapping = options.wrapWith ? await http.publicKey(options.wrapWith) : symmetric;
  const answer = await http.request('POST', '/invoices/exports', {
    bearer: options.bearer ?? accessToken,
    body: {
      encryption: {
        encryptedSymmetricKey: encryptWithCertificate(wrapping.certificate, key.key),
        initializationVector: key.iv.toString('base64'),
        publicKeyId: symmetric.publicKeyId,
      },
      filters: permanentStorageFilters(),
      ...body,
    },
  });
  return { answer, key, referenceNumber: answer.json?.referenceNumber };
}

function readStatus(referenceNumber: string) {
  return http.request('GET', `/invoices/exports/${referenceNumber}`, { bearer: accessToken });
}

/** The export's status once it is no longer 100. */
async function finalStatus(referenceNumber: string): Promise<any> {
  return pollUntil(
    async () => (await readStatus(referenceNumber)).json,
    (status) => status.status.code !== 100,
  );
}

/** Downloads, checks and decrypts every part (no access token), and joins them into the archive. */
async function downloadPackage(pkg: any, key: SymmetricKey): Promise<Buffer> {
  const plainParts: Buffer[] = [];
  expect(pkg.parts.map((p: any) => p.ordinalNumber)).toEqual(pkg.parts.map((_: unknown, i: number) => i + 1));
  for (const part of pkg.parts) {
    expect(part.method).toBe('GET');
    const response = await fetch(part.url);
    expect(response.status).toBe(200);
    const encrypted = Buffer.from(await response.arrayBuffer());
    expect(response.headers.get('x-ms-meta-hash')).toBe(part.encryptedPartHash);
    expect(encrypted.length).toBe(part.encryptedPartSize);
    expect(sha256Base64(encrypted)).toBe(part.encryptedPartHash);
    const plain = aesDecrypt(encrypted, key);
    expect(plain.length).toBe(part.partSize);
    expect(sha256Base64(plain)).toBe(part.partHash);
    plainParts.push(plain);
  }
  const archive = Buffer.concat(plainParts);
  expect(archive.length).toBe(pkg.size);
  return archive;
}

/** The archive's files in archive order. */
async function unpack(archive: Buffer, format: 'Zip' | 'TarGz'): Promise<[string, Buffer][]> {
  const files: [string, Buffer][] = [];
  if (format === 'Zip') {
    const zip = await yauzl.fromBufferPromise(archive, { lazyEntries: true });
    for await (const entry of zip.eachEntry()) files.push([entry.fileName, await collect(await zip.openReadStreamPromise(entry))]);
    return files;
  }
  const extract = tar.extract();
  Readable.from([archive])
    .pipe(createGunzip())
    .pipe(extract as unknown as NodeJS.WritableStream);
  for await (const entry of extract) files.push([entry.header.name, await collect(entry as unknown as Readable)]);
  return files;
}

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** What the metadata query answers for the same filters, ascending: what `_metadata.json` must list. */
async function queriedMetadata(filters: Filters): Promise<unknown[]> {
  const answer = await http.request('POST', '/invoices/query/metadata?sortOrder=Asc&pageSize=250', { bearer: accessToken, body: filters });
  expect(answer.status).toBe(200);
  return answer.json.invoices;
}

describe('sandbox invoice exports', () => {
  it('builds a ZIP of {ksefNumber}.xml files with _metadata.json first, in one part, asynchronously', async () => {
    sandbox.holdExports(true);
    const { answer, key, referenceNumber } = await requestExport();
    expect(answer.status).toBe(201);
    expect(isValidReferenceNumber(referenceNumber)).toBe(true);
    expect(referenceNumber).toMatch(/^\d{8}-EH-/);
    expect((await readStatus(referenceNumber)).json).toEqual({ status: { code: 100, description: 'Eksport faktur w toku' } });
    sandbox.holdExports(false);

    const status = await finalStatus(referenceNumber);
    expect(status.status).toEqual({ code: 200, description: 'Eksport faktur zakończony sukcesem' });
    expect(Date.parse(status.packageExpirationDate)).toBeGreaterThan(Date.parse(status.completedDate));
    const pkg = status.package;
    expect(pkg).toMatchObject({ invoiceCount: 5, isTruncated: false, compressionType: 'Zip' });
    expect(pkg.parts).toHaveLength(1);
    expect(pkg.parts[0].partName).toBe(`${referenceNumber}-001.zip.aes`);
    expect(pkg.parts[0].url).toContain(`/storage/00/${referenceNumber.toLowerCase()}/invoice-part/`);
    expect(Date.parse(pkg.parts[0].expirationDate)).toBeLessThanOrEqual(Date.parse(status.packageExpirationDate));
    // HWM of a PermanentStorage export: the mark (no lag here), reported without truncation.
    expect(Date.parse(pkg.permanentStorageHwmDate)).toBeGreaterThan(Date.parse(since));
    expect(pkg.lastPermanentStorageDate).toBeUndefined();

    const files = await unpack(await downloadPackage(pkg, key), 'Zip');
    expect(files.map(([name]) => name)).toEqual(['_metadata.json', ...sent.map((s) => `${s.ksefNumber}.xml`)]);
    for (const [index, invoice] of sent.entries()) expect(files[index + 1][1].equals(invoice.xml)).toBe(true);
    expect(JSON.parse(files[0][1].toString('utf8'))).toEqual({ invoices: await queriedMetadata(permanentStorageFilters()) });
  });

  it('builds a TarGz split into parts of the set size, each encrypted on its own, that reassemble', async () => {
    sandbox.state.invoiceExports.limits.partSize = 1000;
    const { key, referenceNumber } = await requestExport({ compressionType: 'TarGz' });
    const pkg = (await finalStatus(referenceNumber)).package;
    expect(pkg.compressionType).toBe('TarGz');
    expect(pkg.parts.length).toBe(Math.ceil(pkg.size / 1000));
    expect(pkg.parts.length).toBeGreaterThan(2);
    for (const part of pkg.parts.slice(0, -1)) expect(part.partSize).toBe(1000);
    expect(pkg.parts[0].partName).toBe(`${referenceNumber}-001.tar.gz.aes`);
    const files = await unpack(await downloadPackage(pkg, key), 'TarGz');
    expect(files.map(([name]) => name)).toEqual(['_metadata.json', ...sent.map((s) => `${s.ksefNumber}.xml`)]);
    for (const [index, invoice] of sent.entries()) expect(files[index + 1][1].equals(invoice.xml)).toBe(true);
  });

  it('puts only _metadata.json into the package with onlyMetadata', async () => {
    const { key, referenceNumber } = await requestExport({ onlyMetadata: true });
    const pkg = (await finalStatus(referenceNumber)).package;
    expect(pkg.invoiceCount).toBe(5);
    const files = await unpack(await downloadPackage(pkg, key), 'Zip');
    expect(files.map(([name]) => name)).toEqual(['_metadata.json']);
    expect(JSON.parse(files[0][1].toString('utf8')).invoices.map((i: any) => i.ksefNumber)).toEqual(sent.map((s) => s.ksefNumber));
  });

  it('holds what KSeF had when the export was requested, however long the build takes', async () => {
    const filters = { subjectType: 'Subject2', dateRange: { dateType: 'PermanentStorage', from: since } };
    sandbox.holdExports(true);
    const before = await requestExport({ filters, onlyMetadata: true });
    await new Promise((resolve) => setTimeout(resolve, 20));
    const [later] = sandbox.seedReceived(1);
    sandbox.holdExports(false);
    const heldPackage = (await finalStatus(before.referenceNumber)).package;
    const after = await requestExport({ filters, onlyMetadata: true });
    const laterPackage = (await finalStatus(after.referenceNumber)).package;
    expect(laterPackage.invoiceCount).toBe(heldPackage.invoiceCount + 1);
    const [[, metadata]] = await unpack(await downloadPackage(laterPackage, after.key), 'Zip');
    expect(JSON.parse(metadata.toString('utf8')).invoices.at(-1).ksefNumber).toBe(later);
  });

  it('builds a package of no invoices when none match', async () => {
    const filters = { subjectType: 'Subject1', dateRange: { dateType: 'Invoicing', from: new Date(Date.now() + DAY_MS).toISOString() } };
    const { key, referenceNumber } = await requestExport({ filters, compressionType: 'TarGz' });
    const pkg = (await finalStatus(referenceNumber)).package;
    expect(pkg).toMatchObject({ invoiceCount: 0, isTruncated: false });
    const files = await unpack(await downloadPackage(pkg, key), 'TarGz');
    expect(files.map(([name, content]) => [name, content.toString('utf8')])).toEqual([['_metadata.json', '{"invoices":[]}']]);
  });

  it.each([
    ['PermanentStorage', 'lastPermanentStorageDate'],
    ['Invoicing', 'lastInvoicingDate'],
    ['Issue', 'lastIssueDate'],
  ])('truncates at the invoice limit, ascending by %s date, and names the last date (%s)', async (dateType, field) => {
    sandbox.state.invoiceExports.limits.maxInvoices = 2;
    const filters = { subjectType: 'Subject1', dateRange: { dateType, from: new Date(Date.now() - 10 * DAY_MS).toISOString() } };
    const { key, referenceNumber } = await requestExport({ filters });
    const pkg = (await finalStatus(referenceNumber)).package;
    const expected = (await queriedMetadata(filters)).slice(0, 2) as any[];
    expect(pkg).toMatchObject({ invoiceCount: 2, isTruncated: true });
    const lastDate = { Issue: 'issueDate', Invoicing: 'invoicingDate', PermanentStorage: 'permanentStorageDate' }[dateType]!;
    expect(pkg[field]).toBe(expected[1][lastDate]);
    for (const other of ['lastIssueDate', 'lastInvoicingDate', 'lastPermanentStorageDate'].filter((f) => f !== field))
      expect(pkg[other]).toBeUndefined();
    expect(pkg.permanentStorageHwmDate === undefined).toBe(dateType !== 'PermanentStorage');
    const files = await unpack(await downloadPackage(pkg, key), 'Zip');
    expect(files.map(([name]) => name)).toEqual(['_metadata.json', ...expected.map((m) => `${m.ksefNumber}.xml`)]);
    expect(JSON.parse(files[0][1].toString('utf8'))).toEqual({ invoices: expected });
  });

  it('truncates at the compressed size limit, counting invoices only', async () => {
    const compressedInvoice = 2_000; // a demo invoice deflates to well under this, and takes well over half of it
    sandbox.state.invoiceExports.limits.maxPackageBytes = 2 * compressedInvoice;
    const { key, referenceNumber } = await requestExport();
    const pkg = (await finalStatus(referenceNumber)).package;
    expect(pkg.isTruncated).toBe(true);
    expect(pkg.invoiceCount).toBeGreaterThanOrEqual(1);
    expect(pkg.invoiceCount).toBeLessThan(sent.length);
    const files = await unpack(await downloadPackage(pkg, key), 'Zip');
    expect(files).toHaveLength(pkg.invoiceCount + 1);
    const metadata = JSON.parse(files[0][1].toString('utf8')).invoices;
    expect(pkg.lastPermanentStorageDate).toBe(metadata.at(-1).permanentStorageDate);
    expect(pkg.size - files[0][1].length).toBeLessThanOrEqual(2 * compressedInvoice);
  });

  it('refuses an 11th concurrent export with 21182 while 10 are held at status 100, then finishes them', async () => {
    sandbox.holdExports(true);
    const running = [];
    for (let i = 0; i < 10; i++) running.push((await requestExport({ onlyMetadata: true })).referenceNumber);
    const refused = await requestExport();
    expect(refused.answer.status).toBe(400);
    expect(exceptionOf(refused.answer)).toEqual({
      exceptionCode: 21182,
      exceptionDescription: 'Osiągnięto limit trwających eksportów.',
      details: [
        'Dla uwierzytelnionego podmiotu w bieżącym kontekście osiągnięto maksymalny limit 10 równoczesnych eksportów faktur. Spróbuj ponownie później.',
      ],
    });
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect((await readStatus(running[0])).json.status.code).toBe(100);
    sandbox.holdExports(false);
    for (const referenceNumber of running) expect((await finalStatus(referenceNumber)).status.code).toBe(200);
    expect((await requestExport({ onlyMetadata: true })).answer.status).toBe(201);
  });

  it('ends with 420 when dateRange.from is after the high water mark with restrictToPermanentStorageHwmDate', async () => {
    const from = new Date(Date.now() + 60_000).toISOString();
    const { answer, referenceNumber } = await requestExport({
      filters: { subjectType: 'Subject1', dateRange: { dateType: 'PermanentStorage', from, restrictToPermanentStorageHwmDate: true } },
    });
    expect(answer.status).toBe(201);
    const status = await finalStatus(referenceNumber);
    expect(status.status).toMatchObject({ code: 420, description: 'Zakres filtrowania wykracza poza dostępny zakres danych' });
    expect(status.package).toBeUndefined();
  });

  it('ends with 415 when the key cannot be decrypted', async () => {
    const { answer, referenceNumber } = await requestExport({}, { wrapWith: 'KsefTokenEncryption' });
    expect(answer.status).toBe(201);
    expect((await finalStatus(referenceNumber)).status).toEqual({ code: 415, description: 'Błąd odszyfrowania dostarczonego klucza' });
  });

  it('ends with 500 or 550 when the sandbox is told to fail the next export', async () => {
    sandbox.state.invoiceExports.failNextWith = 550;
    const cancelled = await requestExport();
    expect((await finalStatus(cancelled.referenceNumber)).status).toMatchObject({
      code: 550,
      description: 'Operacja została anulowana przez system',
    });
    sandbox.state.invoiceExports.failNextWith = 500;
    const failed = await requestExport();
    expect((await finalStatus(failed.referenceNumber)).status).toEqual({ code: 500, description: 'Nieznany błąd (500)' });
    expect((await finalStatus((await requestExport()).referenceNumber)).status.code).toBe(200);
  });

  it('answers 210 once the package expired, and its part links stop working', async () => {
    sandbox.state.invoiceExports.limits.packageValidityMs = 300;
    const { referenceNumber } = await requestExport();
    const status = await finalStatus(referenceNumber);
    const partUrl = status.package.parts[0].url;
    expect(Date.parse(status.package.parts[0].expirationDate)).toBe(Date.parse(status.packageExpirationDate));
    await new Promise((resolve) => setTimeout(resolve, Date.parse(status.packageExpirationDate) - Date.now() + 20));
    const expired = (await readStatus(referenceNumber)).json;
    expect(expired).toEqual({
      status: { code: 210, description: 'Eksport faktur wygasł i nie jest już dostępny do pobrania' },
      completedDate: status.completedDate,
      packageExpirationDate: status.packageExpirationDate,
    });
    expect((await fetch(partUrl)).status).toBe(403);
  });

  it('serves a corrupted part as many times as asked, then the intact one', async () => {
    sandbox.state.invoiceExports.limits.partSize = 2000;
    const { key, referenceNumber } = await requestExport();
    const pkg = (await finalStatus(referenceNumber)).package;
    const part = pkg.parts[1];
    sandbox.storage.corruptNextDownload(part.url);
    const corrupted = await fetch(part.url);
    expect(corrupted.headers.get('x-ms-meta-hash')).toBe(part.encryptedPartHash);
    const corruptedBytes = Buffer.from(await corrupted.arrayBuffer());
    expect(corruptedBytes.length).toBe(part.encryptedPartSize);
    expect(sha256Base64(corruptedBytes)).not.toBe(part.encryptedPartHash);
    expect((await unpack(await downloadPackage(pkg, key), 'Zip')).length).toBe(sent.length + 1);

    sandbox.storage.corruptNextDownload(part.url, 2);
    for (let i = 0; i < 2; i++)
      expect(sha256Base64(Buffer.from(await (await fetch(part.url)).arrayBuffer()))).not.toBe(part.encryptedPartHash);
    expect(sha256Base64(Buffer.from(await (await fetch(part.url)).arrayBuffer()))).toBe(part.encryptedPartHash);
  });

  it('answers 21175 for an unknown export and 410 once its status is older than 7 days', async () => {
    const unknown = await readStatus('20250101-EH-1B6C9EB000-4B15D3AEB9-89');
    expect(unknown.status).toBe(400);
    expect(exceptionOf(unknown).exceptionCode).toBe(21175);
    const { referenceNumber } = await requestExport({ onlyMetadata: true });
    await finalStatus(referenceNumber);
    sandbox.state.invoiceExports.byReference.get(referenceNumber)!.dateCreated = new Date(Date.now() - 7 * DAY_MS - 1000);
    const gone = await readStatus(referenceNumber);
    expect(gone.status).toBe(410);
    expect(gone.json).toMatchObject({ status: 410, detail: 'Operacja wygasła i nie jest już dostępna.' });
  });

  it('answers 403 to a token without InvoiceRead', async () => {
    const writeOnly = sandbox.state.issueKsefToken({
      contextIdentifier: sandbox.contextIdentifier,
      authorIdentifier: { type: 'Nip', value: sandbox.contextIdentifier.value },
      description: 'write-only token',
      permissions: ['InvoiceWrite'],
      now: new Date(),
    });
    const { accessToken: writeOnlyAccess } = await http.authenticate(writeOnly.secret, sandbox.contextIdentifier);
    const denied = await requestExport({}, { bearer: writeOnlyAccess });
    expect(denied.answer.status).toBe(403);
    expect(denied.answer.json).toMatchObject({
      reasonCode: 'missing-permissions',
      security: { requiredAnyOfPermissions: ['InvoiceRead'] },
    });
  });

  it('refuses malformed requests with 21405', async () => {
    const badCompression = await requestExport({ compressionType: 'Rar' });
    expect(badCompression.answer.status).toBe(400);
    expect(exceptionOf(badCompression.answer).exceptionCode).toBe(21405);
    const noFilters = await requestExport({ filters: undefined });
    expect(exceptionOf(noFilters.answer).exceptionCode).toBe(21405);
  });

  it("exports 10,000 invoices of 10,001 at KSeF's default limits: truncated, streamed, unpacked whole", async () => {
    // Received invoices, stored one after the other before the invoices sent above.
    const seeded = sandbox.seedReceived(10_001, { from: new Date(Date.now() - 20 * DAY_MS), to: new Date(Date.now() - 10 * DAY_MS) });
    const filters = {
      subjectType: 'Subject2',
      dateRange: { dateType: 'PermanentStorage', from: new Date(Date.now() - 21 * DAY_MS).toISOString() },
    };
    const { key, referenceNumber } = await requestExport({ filters, compressionType: 'TarGz' });
    const status = await pollUntil(
      async () => (await readStatus(referenceNumber)).json,
      (answer) => answer.status.code !== 100,
      6000,
    );
    const pkg = status.package;
    expect(pkg).toMatchObject({ invoiceCount: 10_000, isTruncated: true });
    const files = await unpack(await downloadPackage(pkg, key), 'TarGz');
    expect(files).toHaveLength(10_001);
    const metadata = JSON.parse(files[0][1].toString('utf8')).invoices;
    expect(metadata.map((m: any) => m.ksefNumber)).toEqual(seeded.slice(0, 10_000));
    expect(files.slice(1).map(([name]) => name)).toEqual(seeded.slice(0, 10_000).map((k) => `${k}.xml`));
    expect(pkg.lastPermanentStorageDate).toBe(metadata[9_999].permanentStorageDate);
  }, 120_000);

  it('serves only responses that match open-api.json', () => {
    expect(recorder.violations()).toEqual([]);
    for (const operation of [
      'POST /invoices/exports 201',
      'POST /invoices/exports 400',
      'POST /invoices/exports 403',
      'GET /invoices/exports/{referenceNumber} 200',
      'GET /invoices/exports/{referenceNumber} 400',
      'GET /invoices/exports/{referenceNumber} 410',
    ])
      expect(recorder.coverage()).toContain(operation);
  });
});
