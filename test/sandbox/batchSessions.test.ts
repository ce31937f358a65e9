/**
 * Batch sessions of the sandbox over HTTP (sesja-wsadowa.md, CIRFMF/ksef-docs; open-api.json 2.8.1, CIRFMF/ksef-api):
 * packages are built here with the archive writer and node:crypto, split and encrypted as the official clients do,
 * uploaded to the returned URLs and processed after the close.
 */
import { buffer } from 'node:stream/consumers';
import { writeArchive, type ArchiveFormat } from '../../shared/protocol/archive/write';
import { aesEncrypt, newSymmetricKey, type SymmetricKey } from '../../shared/protocol/crypto/aes';
import { sha256Base64 } from '../../shared/protocol/crypto/hashes';
import { isValidKsefNumber } from '../../shared/protocol/model/ksefNumber';
import { startSandbox, type SandboxHandle } from '../../sandbox';
import { buildDemoInvoice } from '../../sandbox/samples/demoInvoice';
import { ContractRecorder } from '../support/contract';
import {
  KsefHttp,
  ManualClock,
  RELAXED_RATE_LIMITS,
  encryptWithCertificate,
  exceptionOf,
  pollUntil,
  type HttpAnswer,
} from '../support/ksefHttp';

const RATE_LIMITS = {
  ...RELAXED_RATE_LIMITS,
  ...Object.fromEntries(
    (['batchSession', 'batchSessionClose'] as const).map((group) => [group, { perSecond: 10_000, perMinute: 100_000, perHour: 1_000_000 }]),
  ),
};
const UPO_PAGE_SIZE = 2;

const recorder = new ContractRecorder();
let sandbox: SandboxHandle;
let http: KsefHttp;
let accessToken: string;

beforeAll(async () => {
  sandbox = await startSandbox({
    processingDelayMs: 5,
    rateLimits: RATE_LIMITS,
    onExchange: recorder.record,
    sessionUpoPageSize: UPO_PAGE_SIZE,
  });
  http = new KsefHttp(sandbox.baseUrl);
  ({ accessToken } = await http.authenticate(sandbox.ksefToken, sandbox.contextIdentifier));
});

afterAll(async () => {
  await sandbox.close();
});

interface PackageFile {
  name: string;
  content: string | Buffer;
}

/** A package as the client sends it: the archive's bytes, its parts encrypted one by one with the session key. */
interface BuiltPackage {
  key: SymmetricKey;
  archive: Buffer;
  parts: Buffer[];
  format: ArchiveFormat;
}

async function buildPackage(files: PackageFile[], options: { format?: ArchiveFormat; parts?: number } = {}): Promise<BuiltPackage> {
  const format = options.format ?? 'Zip';
  const archive = await buffer(writeArchive(format, files));
  return { format, archive, ...encryptParts(archive, options.parts ?? 1) };
}

/** Splits `archive` binarily into `count` parts and encrypts each with the same key and IV (BatchUtils of the C# client). */
function encryptParts(archive: Buffer, count: number, key: SymmetricKey = newSymmetricKey()): { key: SymmetricKey; parts: Buffer[] } {
  const partSize = Math.ceil(archive.length / count);
  const parts = Array.from({ length: count }, (_, i) => aesEncrypt(archive.subarray(i * partSize, (i + 1) * partSize), key));
  return { key, parts };
}

/** The OpenBatchSessionRequest of `built` for the sandbox of `client`, with `change` applied to it. */
async function openRequest(
  built: BuiltPackage,
  change: (body: any) => void = () => undefined,
  client = http,
): Promise<Record<string, unknown>> {
  const certificate = await client.publicKey('SymmetricKeyEncryption');
  const body = {
    formCode: { systemCode: 'FA (3)', schemaVersion: '1-0E', value: 'FA' },
    batchFile: {
      fileSize: built.archive.length,
      fileHash: sha256Base64(built.archive),
      compressionType: built.format,
      fileParts: built.parts.map((part, i) => ({ ordinalNumber: i + 1, fileSize: part.length, fileHash: sha256Base64(part) })),
    },
    encryption: {
      encryptedSymmetricKey: encryptWithCertificate(certificate.certificate, built.key.key),
      initializationVector: built.key.iv.toString('base64'),
      publicKeyId: certificate.publicKeyId,
    },
  };
  change(body);
  return body;
}

function openBatch(body: Record<string, unknown>, http_ = http, token = accessToken): Promise<HttpAnswer> {
  return http_.request('POST', '/sessions/batch', { bearer: token, body });
}

/** PUT of one part exactly as `partUploadRequests` says: its method, URL and headers, no access token. */
function upload(request: { method: string; url: string; headers: Record<string, string> }, bytes: Buffer): Promise<Response> {
  return fetch(request.url, { method: request.method, headers: request.headers, body: bytes });
}

async function uploadAll(opened: HttpAnswer, parts: Buffer[]): Promise<void> {
  for (const request of opened.json.partUploadRequests) {
    const answer = await upload(request, parts[request.ordinalNumber - 1]);
    expect(answer.status).toBe(201);
  }
}

function close(referenceNumber: string, http_ = http, token = accessToken): Promise<HttpAnswer> {
  return http_.request('POST', `/sessions/batch/${referenceNumber}/close`, { bearer: token });
}

/** Polls the session until its processing is over (neither 100 nor 150). */
function batchResult(referenceNumber: string): Promise<any> {
  return pollUntil(
    async () => (await http.request('GET', `/sessions/${referenceNumber}`, { bearer: accessToken })).json,
    (session) => session.status.code !== 100 && session.status.code !== 150,
    1000,
  );
}

/** Opens, uploads every part, closes and waits for the outcome. */
async function sendPackage(built: BuiltPackage, change?: (body: any) => void): Promise<{ referenceNumber: string; session: any }> {
  const opened = await openBatch(await openRequest(built, change));
  expect(opened.status).toBe(201);
  await uploadAll(opened, built.parts);
  expect((await close(opened.json.referenceNumber)).status).toBe(204);
  return { referenceNumber: opened.json.referenceNumber, session: await batchResult(opened.json.referenceNumber) };
}

async function invoicesOf(referenceNumber: string, path = 'invoices'): Promise<any[]> {
  const answer = await http.request('GET', `/sessions/${referenceNumber}/${path}?pageSize=100`, { bearer: accessToken });
  expect(answer.status).toBe(200);
  return answer.json.invoices;
}

function invoiceFiles(count: number, prefix: string): PackageFile[] {
  return Array.from({ length: count }, (_, i) => ({
    name: `faktura_${i + 1}.xml`,
    content: buildDemoInvoice({ invoiceNumber: `${prefix}/${i + 1}` }),
  }));
}

describe('sandbox batch session', () => {
  it('processes a ZIP in several parts: valid invoices numbered, an invalid one with its own failure, listed under GET /sessions', async () => {
    const files = [
      ...invoiceFiles(2, `FV/BATCH/ZIP/${Date.now()}`),
      { name: 'other-seller.xml', content: buildDemoInvoice({ sellerNip: '5265877635', invoiceNumber: 'FV/OTHER/1' }) },
      { name: 'broken.xml', content: '<Faktura><Naglowek>' },
    ];
    const built = await buildPackage(files, { parts: 3 });
    const opened = await openBatch(await openRequest(built));
    expect(opened.status).toBe(201);
    const referenceNumber: string = opened.json.referenceNumber;
    expect(referenceNumber).toMatch(/^\d{8}-SB-/);
    expect(opened.json.partUploadRequests).toHaveLength(3);
    for (const [i, request] of (opened.json.partUploadRequests as any[]).entries()) {
      expect(request).toMatchObject({ ordinalNumber: i + 1, method: 'PUT', headers: { 'x-ms-blob-type': 'BlockBlob' } });
      const url = new URL(request.url);
      expect(url.origin).toBe(new URL(sandbox.baseUrl).origin);
      expect(url.pathname).toBe(`/storage/00/${referenceNumber.toLowerCase()}/batch-parts/${i + 1}`);
      // 20 minutes per declared part, for each part (sesja-wsadowa.md).
      const window = Date.parse(url.searchParams.get('se')!) - Date.now();
      expect(window).toBeGreaterThan(59 * 60_000);
      expect(window).toBeLessThanOrEqual(60 * 60_000);
    }
    const status = await http.request('GET', `/sessions/${referenceNumber}`, { bearer: accessToken });
    expect(status.json.status).toEqual({ code: 100, description: 'Sesja wsadowa rozpoczęta' });

    await uploadAll(opened, built.parts);
    // Each part is taken once.
    const again = await upload(opened.json.partUploadRequests[0], built.parts[0]);
    expect(again.status).toBe(409);
    expect(again.headers.get('x-ms-error-code')).toBe('BlobAlreadyExists');

    expect((await close(referenceNumber)).status).toBe(204);
    const closedAgain = await close(referenceNumber);
    expect(exceptionOf(closedAgain)).toMatchObject({ exceptionCode: 21180 });

    const session = await batchResult(referenceNumber);
    expect(session).toMatchObject({
      status: { code: 200, description: 'Sesja wsadowa przetworzona pomyślnie' },
      invoiceCount: 4,
      successfulInvoiceCount: 2,
      failedInvoiceCount: 2,
    });
    const invoices = await invoicesOf(referenceNumber);
    expect(invoices.map((i) => [i.ordinalNumber, i.invoiceFileName, i.status.code])).toEqual([
      [1, 'faktura_1.xml', 200],
      [2, 'faktura_2.xml', 200],
      [3, 'other-seller.xml', 410],
      [4, 'broken.xml', 430],
    ]);
    for (const [i, invoice] of invoices.entries()) {
      expect(invoice.invoiceHash).toBe(sha256Base64(Buffer.from(files[i].content)));
      // A batch's invoices are accepted when the session opened (offline/automatyczne-okreslanie-trybu-offline.md).
      expect(invoice.invoicingDate).toBe(session.dateCreated);
    }
    for (const invoice of invoices.slice(0, 2)) {
      expect(isValidKsefNumber(invoice.ksefNumber)).toBe(true);
      expect(invoice.invoicingMode).toBe('Online');
      const upo = await fetch(invoice.upoDownloadUrl);
      expect(await upo.text()).toContain(`<NumerKSeFDokumentu>${invoice.ksefNumber}</NumerKSeFDokumentu>`);
    }
    expect(invoices[2].ksefNumber).toBeUndefined();
    expect((await invoicesOf(referenceNumber, 'invoices/failed')).map((i) => i.invoiceFileName)).toEqual([
      'other-seller.xml',
      'broken.xml',
    ]);

    // The original of an accepted invoice, as of any online one.
    const original = await pollUntil(
      () => http.request('GET', `/invoices/ksef/${invoices[0].ksefNumber}`, { bearer: accessToken }),
      (answer) => answer.status === 200,
    );
    expect(original.text).toBe(files[0].content);

    const batchList = await http.request('GET', '/sessions?sessionType=Batch&pageSize=100', { bearer: accessToken });
    expect(batchList.json.sessions.find((s: any) => s.referenceNumber === referenceNumber)).toMatchObject({
      status: { code: 200 },
      totalInvoiceCount: 4,
      successfulInvoiceCount: 2,
      failedInvoiceCount: 2,
    });
    const succeeded = await http.request('GET', '/sessions?sessionType=Batch&statuses=Succeeded&pageSize=100', { bearer: accessToken });
    expect(succeeded.json.sessions.map((s: any) => s.referenceNumber)).toContain(referenceNumber);
    const failedOnes = await http.request('GET', '/sessions?sessionType=Batch&statuses=Failed&pageSize=100', { bearer: accessToken });
    expect(failedOnes.json.sessions.map((s: any) => s.referenceNumber)).not.toContain(referenceNumber);
    const onlineList = await http.request('GET', '/sessions?sessionType=Online&pageSize=100', { bearer: accessToken });
    expect(onlineList.json.sessions.map((s: any) => s.referenceNumber)).not.toContain(referenceNumber);
    // An online operation on a batch session does not find it.
    const onlineClose = await http.request('POST', `/sessions/online/${referenceNumber}/close`, { bearer: accessToken });
    expect(exceptionOf(onlineClose)).toMatchObject({ exceptionCode: 21173 });
  });

  it('processes a TarGz package into UPO pages of the configured size, a duplicate in the package failing on its own', async () => {
    const files = invoiceFiles(5, `FV/BATCH/TGZ/${Date.now()}`);
    files.push({ name: 'again.xml', content: files[0].content });
    const { referenceNumber, session } = await sendPackage(await buildPackage(files, { format: 'TarGz', parts: 2 }));
    expect(session).toMatchObject({ status: { code: 200 }, invoiceCount: 6, successfulInvoiceCount: 5, failedInvoiceCount: 1 });
    const invoices = await invoicesOf(referenceNumber);
    expect(invoices[5]).toMatchObject({ invoiceFileName: 'again.xml', status: { code: 440, description: 'Duplikat faktury' } });
    expect(invoices[5].status.extensions).toEqual({
      originalSessionReferenceNumber: referenceNumber,
      originalKsefNumber: invoices[0].ksefNumber,
    });

    // Five accepted invoices, two per page.
    expect(session.upo.pages).toHaveLength(3);
    for (const [i, page] of (session.upo.pages as any[]).entries()) {
      const downloaded = await fetch(page.downloadUrl);
      const xml = await downloaded.text();
      expect(downloaded.headers.get('x-ms-meta-hash')).toBe(sha256Base64(Buffer.from(xml)));
      expect(xml).toContain(`<Strona>${i + 1}</Strona>`);
      expect(xml).toContain('<LiczbaStron>3</LiczbaStron>');
      expect(xml).toContain('<CalkowitaLiczbaDokumentow>5</CalkowitaLiczbaDokumentow>');
      expect(xml.match(/<Dokument>/g)).toHaveLength(i < 2 ? 2 : 1);
      const byApi = await http.request('GET', `/sessions/${referenceNumber}/upo/${page.referenceNumber}`, { bearer: accessToken });
      expect(byApi.text).toBe(xml);
    }
  });

  it('accepts invoices with attachments for enabled NIPs only, and marks the invoices of an offline batch Offline', async () => {
    const attachment =
      '<Zalacznik><BlokDanych><ZNaglowek>Protokół odbioru</ZNaglowek><MetaDane><ZKlucz>Projekt</ZKlucz><ZWartosc>KSeF</ZWartosc></MetaDane>' +
      '<Tekst><Akapit>Prace odebrano bez zastrzeżeń.</Akapit></Tekst></BlokDanych></Zalacznik>';
    const withAttachment = (invoiceNumber: string) => ({
      name: `${invoiceNumber.replace(/\//g, '_')}.xml`,
      content: buildDemoInvoice({ invoiceNumber }).replace('</Faktura>', `${attachment}</Faktura>`),
    });
    const stamp = Date.now();
    const notEnabled = await sendPackage(await buildPackage([withAttachment(`FV/ATT/${stamp}/1`)]));
    expect(notEnabled.session.status.code).toBe(445);
    const [refused] = await invoicesOf(notEnabled.referenceNumber);
    expect(refused.status).toMatchObject({ code: 415, details: [expect.stringContaining('not enabled for NIP 1234563218')] });

    sandbox.state.attachmentNips.add(sandbox.contextIdentifier.value);
    try {
      const offline = await sendPackage(await buildPackage([withAttachment(`FV/ATT/${stamp}/2`)]), (body) => {
        body.offlineMode = true;
      });
      expect(offline.session.status.code).toBe(200);
      const [accepted] = await invoicesOf(offline.referenceNumber);
      expect(accepted).toMatchObject({ status: { code: 200 }, invoicingMode: 'Offline' });
    } finally {
      sandbox.state.attachmentNips.delete(sandbox.contextIdentifier.value);
    }
  });

  it('refuses the close while a declared part is missing, and accepts it once the part arrived', async () => {
    const built = await buildPackage(invoiceFiles(2, `FV/BATCH/MISSING/${Date.now()}`), { parts: 2 });
    const opened = await openBatch(await openRequest(built));
    const referenceNumber = opened.json.referenceNumber;
    expect((await upload(opened.json.partUploadRequests[0], built.parts[0])).status).toBe(201);
    const refused = await close(referenceNumber);
    expect(refused.status).toBe(400);
    expect(exceptionOf(refused)).toEqual({
      exceptionCode: 21205,
      exceptionDescription: 'Pakiet nie może być pusty.',
      details: ["Nie przesłano zadeklarowanej '2' części pliku."],
    });
    expect((await upload(opened.json.partUploadRequests[1], built.parts[1])).status).toBe(201);
    expect((await close(referenceNumber)).status).toBe(204);
    expect((await batchResult(referenceNumber)).status.code).toBe(200);
  });

  it('refuses the close when an uploaded part is not of its declared size', async () => {
    const built = await buildPackage(invoiceFiles(1, `FV/BATCH/SIZE/${Date.now()}`));
    const opened = await openBatch(await openRequest(built));
    expect((await upload(opened.json.partUploadRequests[0], built.parts[0].subarray(16))).status).toBe(201);
    expect(exceptionOf(await close(opened.json.referenceNumber))).toEqual({
      exceptionCode: 21157,
      exceptionDescription: 'Nieprawidłowy rozmiar części pakietu.',
      details: ["Zadeklarowany rozmiar części '1' nie zgadza się z rzeczywistym."],
    });
  });

  it('ends in 405 when a part is not the declared one or the package is not, 435 when a part does not decrypt', async () => {
    const files = invoiceFiles(2, `FV/BATCH/HASH/${Date.now()}`);
    const built = await buildPackage(files, { parts: 2 });
    // Same size, other bytes: the second part declared by the hash of something else.
    const wrongPart = await sendPackage(built, (body) => {
      body.batchFile.fileParts[1].fileHash = sha256Base64(Buffer.from('something else'));
    });
    expect(wrongPart.session.status).toEqual({
      code: 405,
      description: 'Błąd weryfikacji poprawności dostarczonych elementów paczki',
      details: ["Skrót części '2' nie zgadza się z zadeklarowanym (fileParts.fileHash)."],
    });
    expect(wrongPart.session.invoiceCount).toBe(0);
    expect(wrongPart.session.upo).toBeUndefined();

    const wrongPackage = await sendPackage(await buildPackage(files), (body) => {
      body.batchFile.fileHash = sha256Base64(Buffer.from('another package'));
    });
    expect(wrongPackage.session.status).toMatchObject({
      code: 405,
      details: ['Skrót paczki nie zgadza się z zadeklarowanym (batchFile.fileHash).'],
    });

    // Parts encrypted under another key than the one declared: their hashes match, their padding does not.
    const archive = await buffer(writeArchive('Zip', files));
    const undecryptable = { ...(await buildPackage(files)), parts: encryptParts(archive, 1).parts };
    const wrongKey = await sendPackage(undecryptable, (body) => {
      body.batchFile.fileParts[0].fileHash = sha256Base64(undecryptable.parts[0]);
    });
    expect(wrongKey.session.status).toMatchObject({ code: 435, description: 'Błąd odszyfrowania zaszyfrowanych części archiwum' });
  });

  it('ends in 430 for an archive that does not unpack, 440 for an empty one, 420 past the invoice limit', async () => {
    const corrupt = Buffer.from('PK\u0003\u0004 this is not really a zip archive, only its first bytes', 'latin1');
    const notZip = await sendPackage({ format: 'Zip', archive: corrupt, ...encryptParts(corrupt, 1) });
    expect(notZip.session.status).toMatchObject({ code: 430, description: 'Błąd dekompresji pierwotnego archiwum' });

    const notTar = await sendPackage({ format: 'TarGz', archive: corrupt, ...encryptParts(corrupt, 1) });
    expect(notTar.session.status.code).toBe(430);

    const empty = await sendPackage(await buildPackage([]));
    expect(empty.session.status).toEqual({ code: 440, description: 'Sesja anulowana', details: ['Nie przesłano faktur'] });

    const { batchSession } = sandbox.state.limits.contextLimitsOf(sandbox.contextIdentifier);
    sandbox.state.limits.setContextLimits(sandbox.contextIdentifier, { batchSession: { ...batchSession, maxInvoices: 2 } });
    try {
      const tooMany = await sendPackage(await buildPackage(invoiceFiles(3, `FV/BATCH/LIMIT/${Date.now()}`)));
      expect(tooMany.session.status).toMatchObject({ code: 420, description: 'Przekroczony limit faktur w sesji' });
      expect(tooMany.session.successfulInvoiceCount).toBe(0);
      const invoices = await invoicesOf(tooMany.referenceNumber);
      expect(invoices.every((i) => i.status.code === 405 && !i.ksefNumber)).toBe(true);
    } finally {
      sandbox.state.limits.resetContextLimits(sandbox.contextIdentifier);
    }
  });

  it('validates the declaration at open', async () => {
    const built = await buildPackage(invoiceFiles(1, `FV/BATCH/OPEN/${Date.now()}`));
    const refusal = async (change: (body: any) => void) => exceptionOf(await openBatch(await openRequest(built, change)));

    expect(
      await refusal((body) => {
        body.formCode = { systemCode: 'PEF (3)', schemaVersion: '2-1', value: 'PEF' };
      }),
    ).toMatchObject({ exceptionCode: 21405, details: ['Wskazany kod formularza nie jest wspierany.'] });
    expect(
      await refusal((body) => {
        body.batchFile.fileParts.push({ ...body.batchFile.fileParts[0], ordinalNumber: 3 });
      }),
    ).toMatchObject({
      exceptionCode: 21405,
      details: ["'batchFile.fileParts' must be numbered 1 to 2 (ordinalNumber), each number once."],
    });
    expect(
      await refusal((body) => {
        body.batchFile.fileParts[0].fileSize = 100_000_032;
      }),
    ).toEqual({
      exceptionCode: 21157,
      exceptionDescription: 'Nieprawidłowy rozmiar części pakietu.',
      details: ['Rozmiar części 1 przekroczył dozwolony rozmiar 100MB.'],
    });
    expect(
      await refusal((body) => {
        body.batchFile.fileParts = Array.from({ length: 51 }, (_, i) => ({ ...body.batchFile.fileParts[0], ordinalNumber: i + 1 }));
      }),
    ).toMatchObject({ exceptionCode: 21405 });
    expect(
      await refusal((body) => {
        body.batchFile.fileHash = 'AAAA';
      }),
    ).toMatchObject({ exceptionCode: 21405 });
    expect(
      await refusal((body) => {
        body.batchFile.compressionType = 'Rar';
      }),
    ).toMatchObject({ exceptionCode: 21405 });
    expect(
      await refusal((body) => {
        body.encryption.publicKeyId = Buffer.alloc(32, 1).toString('base64');
      }),
    ).toMatchObject({ exceptionCode: 21470 });

    // A key that cannot be unwrapped is reported by the session's status, and the session cannot be closed.
    const badKey = await openBatch(
      await openRequest(built, (body) => {
        body.encryption.encryptedSymmetricKey = Buffer.alloc(256, 7).toString('base64');
      }),
    );
    expect(badKey.status).toBe(201);
    const session = await batchResult(badKey.json.referenceNumber);
    expect(session.status).toEqual({ code: 415, description: 'Błąd odszyfrowania dostarczonego klucza' });
    expect(exceptionOf(await close(badKey.json.referenceNumber))).toMatchObject({
      exceptionCode: 21180,
      details: ['Status sesji 415 uniemożliwia jej zamknięcie.'],
    });
  });

  it('answers every request as open-api.json says', () => {
    const coverage = recorder.coverage();
    for (const operation of ['POST /sessions/batch 201', 'POST /sessions/batch 400', 'POST /sessions/batch/{referenceNumber}/close 204']) {
      expect(coverage).toContain(operation);
    }
    expect(coverage).toContain('POST /sessions/batch/{referenceNumber}/close 400');
    expect(recorder.violations()).toEqual([]);
  });
});

describe('sandbox batch session upload window', () => {
  it('refuses uploads after 20 minutes per part, and the close then cancels the session', async () => {
    const clock = new ManualClock();
    const timed = await startSandbox({ processingDelayMs: 5, rateLimits: RATE_LIMITS, clock, onExchange: recorder.record });
    try {
      const timedHttp = new KsefHttp(timed.baseUrl);
      const { accessToken: token } = await timedHttp.authenticate(timed.ksefToken, timed.contextIdentifier);
      const built = await buildPackage(invoiceFiles(2, `FV/BATCH/LATE/${Date.now()}`), { parts: 2 });
      const opened = await openBatch(await openRequest(built, undefined, timedHttp), timedHttp, token);
      expect((await upload(opened.json.partUploadRequests[0], built.parts[0])).status).toBe(201);

      // Two parts: 40 minutes for each.
      clock.advance(39 * 60_000);
      const { accessToken: fresh } = await timedHttp.authenticate(timed.ksefToken, timed.contextIdentifier);
      expect(exceptionOf(await close(opened.json.referenceNumber, timedHttp, fresh))).toMatchObject({ exceptionCode: 21205 });
      clock.advance(2 * 60_000);
      const late = await upload(opened.json.partUploadRequests[1], built.parts[1]);
      expect(late.status).toBe(403);
      expect(late.headers.get('x-ms-error-code')).toBe('AuthenticationFailed');

      const refused = await close(opened.json.referenceNumber, timedHttp, fresh);
      expect(exceptionOf(refused)).toEqual({
        exceptionCode: 21208,
        exceptionDescription: 'Czas oczekiwania na requesty upload lub finish został przekroczony.',
        details: ['Sesja anulowana, przekroczony czas wysyłki.'],
      });
      const status = await timedHttp.request('GET', `/sessions/${opened.json.referenceNumber}`, { bearer: fresh });
      expect(status.json.status).toEqual({ code: 440, description: 'Sesja anulowana', details: ['Przekroczono czas wysyłki'] });
      const cancelled = await timedHttp.request('GET', '/sessions?sessionType=Batch&statuses=Cancelled', { bearer: fresh });
      expect(cancelled.json.sessions.map((s: any) => s.referenceNumber)).toEqual([opened.json.referenceNumber]);

      // A session whose parts all arrived but which is never closed is cancelled 12 hours after its open.
      const unclosed = await openBatch(await openRequest(built, undefined, timedHttp), timedHttp, fresh);
      await uploadAll(unclosed, built.parts);
      clock.advance(12 * 3600_000 + 60_000);
      const { accessToken: later } = await timedHttp.authenticate(timed.ksefToken, timed.contextIdentifier);
      const expired = await timedHttp.request('GET', `/sessions/${unclosed.json.referenceNumber}`, { bearer: later });
      expect(expired.json.status).toEqual({ code: 440, description: 'Sesja anulowana', details: ['Przekroczono czas wysyłki'] });
      expect(exceptionOf(await close(unclosed.json.referenceNumber, timedHttp, later))).toMatchObject({ exceptionCode: 21208 });
      expect(recorder.violations()).toEqual([]);
    } finally {
      await timed.close();
    }
  });
});
