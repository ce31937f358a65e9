import { aesEncrypt, newSymmetricKey } from '../../shared/protocol/crypto/aes';
import { sha256Base64 } from '../../shared/protocol/crypto/hashes';
import { isValidKsefNumber } from '../../shared/protocol/model/ksefNumber';
import { startSandbox, type SandboxHandle } from '../../sandbox';
import { buildDemoInvoice } from '../../sandbox/samples/demoInvoice';
import { ContractRecorder } from '../support/contract';
import { KsefHttp, RELAXED_RATE_LIMITS, encryptWithCertificate, pollUntil, sendInvoiceBody } from '../support/ksefHttp';

const recorder = new ContractRecorder();
let sandbox: SandboxHandle;
let http: KsefHttp;
let accessToken: string;

beforeAll(async () => {
  sandbox = await startSandbox({ processingDelayMs: 5, rateLimits: RELAXED_RATE_LIMITS, onExchange: recorder.record });
  http = new KsefHttp(sandbox.baseUrl);
  ({ accessToken } = await http.authenticate(sandbox.ksefToken, sandbox.contextIdentifier));
});

afterAll(async () => {
  await sandbox.close();
});

describe('sandbox online session', () => {
  it('accepts invoices, numbers them, rejects duplicates and closes with a session UPO', async () => {
    const session = await http.openOnlineSession(accessToken);
    expect(session.answer.status).toBe(201);
    expect(session.referenceNumber).toMatch(/^\d{8}-SO-/);
    expect(Date.parse(session.answer.json.validUntil) - Date.now()).toBeGreaterThan(11 * 3600_000);

    const first = buildDemoInvoice({ invoiceNumber: 'FV/SANDBOX/1' });
    const second = buildDemoInvoice({ invoiceNumber: 'FV/SANDBOX/2' });
    const sent = [];
    for (const xml of [first, second, first]) {
      const answer = await http.sendInvoice(accessToken, session.referenceNumber, sendInvoiceBody(xml, session.key));
      expect(answer.status).toBe(202);
      expect(answer.json.referenceNumber).toMatch(/^\d{8}-EE-/);
      sent.push(answer.json.referenceNumber as string);
    }

    const [one, two, duplicate] = await Promise.all(sent.map((ref) => http.invoiceResult(accessToken, session.referenceNumber, ref)));
    for (const [invoice, xml, ordinal] of [
      [one, first, 1],
      [two, second, 2],
    ] as const) {
      expect(invoice).toMatchObject({ ordinalNumber: ordinal, status: { code: 200, description: 'Sukces' }, invoicingMode: 'Online' });
      expect(invoice.invoiceHash).toBe(sha256Base64(Buffer.from(xml)));
      expect(isValidKsefNumber(invoice.ksefNumber)).toBe(true);
      expect(invoice.ksefNumber.startsWith('1234563218-')).toBe(true);
      expect(Date.parse(invoice.acquisitionDate)).toBeGreaterThanOrEqual(Date.parse(invoice.invoicingDate));
      expect(invoice.upoDownloadUrl).toMatch(
        new RegExp(`^http://127\\.0\\.0\\.1:\\d+/storage/01/${session.referenceNumber.toLowerCase()}/invoice-upo/`),
      );
    }
    expect(one.invoiceNumber).toBe('FV/SANDBOX/1');
    expect(duplicate.status).toEqual({
      code: 440,
      description: 'Duplikat faktury',
      details: [
        `Duplikat faktury. Faktura o numerze KSeF: ${one.ksefNumber} została już prawidłowo przesłana do systemu w sesji: ${session.referenceNumber}`,
      ],
      extensions: { originalSessionReferenceNumber: session.referenceNumber, originalKsefNumber: one.ksefNumber },
    });
    expect(duplicate.ksefNumber).toBeUndefined();

    // The invoice UPO, by KSeF number, by invoice reference and by download link, always with its hash.
    const byKsefNumber = await http.request('GET', `/sessions/${session.referenceNumber}/invoices/ksef/${one.ksefNumber}/upo`, {
      bearer: accessToken,
    });
    expect(byKsefNumber.status).toBe(200);
    expect(byKsefNumber.headers.get('content-type')).toBe('application/xml');
    expect(byKsefNumber.headers.get('x-ms-meta-hash')).toBe(sha256Base64(Buffer.from(byKsefNumber.text)));
    expect(byKsefNumber.text).toContain(`<NumerKSeFDokumentu>${one.ksefNumber}</NumerKSeFDokumentu>`);
    const byReference = await http.request('GET', `/sessions/${session.referenceNumber}/invoices/${sent[0]}/upo`, { bearer: accessToken });
    expect(byReference.text).toBe(byKsefNumber.text);
    const download = await fetch(one.upoDownloadUrl);
    expect(download.status).toBe(200);
    const downloaded = await download.text();
    expect(downloaded).toBe(byKsefNumber.text);
    expect(download.headers.get('x-ms-meta-hash')).toBe(sha256Base64(Buffer.from(downloaded)));

    // The original invoice, once permanently stored.
    const original = await pollUntil(
      () => http.request('GET', `/invoices/ksef/${one.ksefNumber}`, { bearer: accessToken }),
      (answer) => answer.status === 200,
    );
    expect(original.text).toBe(first);
    expect(original.headers.get('x-ms-meta-hash')).toBe(sha256Base64(Buffer.from(first)));
    const unknownNumber = one.ksefNumber.replace(/-[0-9A-F]{12}-/, '-000000000000-');
    const missing = await http.request('GET', `/invoices/ksef/${unknownNumber}`, { bearer: accessToken });
    expect(missing.json.exception.exceptionDetailList).toEqual([
      {
        exceptionCode: 21164,
        exceptionDescription: 'Faktura o podanym identyfikatorze nie istnieje.',
        details: [`Faktura o numerze KSeF ${unknownNumber} nie została znaleziona.`],
      },
    ]);
    const stored = await http.invoiceResult(accessToken, session.referenceNumber, sent[0]);
    expect(Date.parse(stored.permanentStorageDate)).toBeGreaterThan(Date.parse(stored.acquisitionDate));

    const failed = await http.request('GET', `/sessions/${session.referenceNumber}/invoices/failed`, { bearer: accessToken });
    expect(failed.json.invoices.map((i: { referenceNumber: string }) => i.referenceNumber)).toEqual([sent[2]]);

    expect((await http.request('POST', `/sessions/online/${session.referenceNumber}/close`, { bearer: accessToken })).status).toBe(204);
    const closedAgain = await http.request('POST', `/sessions/online/${session.referenceNumber}/close`, { bearer: accessToken });
    expect(closedAgain.json.exception.exceptionDetailList[0]).toMatchObject({ exceptionCode: 21180 });
    const lateSend = await http.sendInvoice(accessToken, session.referenceNumber, sendInvoiceBody(buildDemoInvoice(), session.key));
    expect(lateSend.json.exception.exceptionDetailList[0]).toMatchObject({
      exceptionCode: 21180,
      details: [expect.stringMatching(/^Status sesji (170|200) uniemożliwia wysyłkę faktur\.$/)],
    });

    const finished = await http.sessionResult(accessToken, session.referenceNumber);
    expect(finished).toMatchObject({
      status: { code: 200, description: 'Sesja interaktywna przetworzona pomyślnie' },
      invoiceCount: 3,
      successfulInvoiceCount: 2,
      failedInvoiceCount: 1,
    });
    expect(finished.upo.pages).toHaveLength(1);
    const [upoPage] = finished.upo.pages;
    expect(upoPage.referenceNumber).toMatch(/^\d{8}-EU-/);
    expect(upoPage.downloadUrl).toContain(`/storage/01/${session.referenceNumber.toLowerCase()}/session-upo/`);
    const sessionUpo = await http.request('GET', `/sessions/${session.referenceNumber}/upo/${upoPage.referenceNumber}`, {
      bearer: accessToken,
    });
    expect(sessionUpo.status).toBe(200);
    expect(sessionUpo.headers.get('x-ms-meta-hash')).toBe(sha256Base64(Buffer.from(sessionUpo.text)));
    expect(sessionUpo.text).toContain(`<NumerReferencyjnySesji>${session.referenceNumber}</NumerReferencyjnySesji>`);
    expect(sessionUpo.text).toContain(one.ksefNumber);
    expect(sessionUpo.text).toContain(two.ksefNumber);
    const sessionUpoDownload = await fetch(upoPage.downloadUrl);
    expect(await sessionUpoDownload.text()).toBe(sessionUpo.text);

    const tampered = await fetch(upoPage.downloadUrl.replace(/sig=[^&]+/, 'sig=forged'));
    expect(tampered.status).toBe(403);
  });

  it('checks the declared encrypted size (21402) and hash (21403) while receiving', async () => {
    const session = await http.openOnlineSession(accessToken);
    const body = sendInvoiceBody(buildDemoInvoice(), session.key);
    const badSize = await http.sendInvoice(accessToken, session.referenceNumber, {
      ...body,
      encryptedInvoiceSize: (body.encryptedInvoiceSize as number) + 16,
    });
    expect(badSize.status).toBe(400);
    expect(badSize.json.exception.exceptionDetailList).toEqual([
      {
        exceptionCode: 21402,
        exceptionDescription: 'Nieprawidłowy rozmiar pliku.',
        details: ['Długość treści nie zgadza się z rozmiarem pliku.'],
      },
    ]);
    const badHash = await http.sendInvoice(accessToken, session.referenceNumber, {
      ...body,
      encryptedInvoiceHash: sha256Base64('something else'),
    });
    expect(badHash.json.exception.exceptionDetailList).toEqual([
      {
        exceptionCode: 21403,
        exceptionDescription: 'Nieprawidłowy skrót pliku.',
        details: ['Skrót treści nie zgadza się ze skrótem pliku.'],
      },
    ]);
    const unknownSession = await http.sendInvoice(accessToken, '20260101-SO-0000000000-0000000000-00', body);
    expect(unknownSession.json.exception.exceptionDetailList[0]).toMatchObject({ exceptionCode: 21173 });
  });

  it('answers 21184 to sending into a session under service work; a new session takes the invoice', async () => {
    const session = await http.openOnlineSession(accessToken);
    sandbox.state.sessionsUnderMaintenance.add(session.referenceNumber);
    const unavailable = await http.sendInvoice(accessToken, session.referenceNumber, sendInvoiceBody(buildDemoInvoice(), session.key));
    expect(unavailable.status).toBe(400);
    expect(unavailable.json.exception.exceptionDetailList).toEqual([
      {
        exceptionCode: 21184,
        exceptionDescription: 'Sesja tymczasowo niedostępna.',
        details: [
          `Trwają prace serwisowe i sesja ${session.referenceNumber} jest tymczasowo niedostępna. Spróbuj ponownie później lub otwórz nową sesję, aby wysłać kolejne faktury.`,
        ],
      },
    ]);
    const next = await http.openOnlineSession(accessToken);
    expect((await http.sendInvoice(accessToken, next.referenceNumber, sendInvoiceBody(buildDemoInvoice(), next.key))).status).toBe(202);
  });

  it('rejects invoices it cannot decrypt (435) or verify (430) and ends such a session with 445', async () => {
    const session = await http.openOnlineSession(accessToken);
    const wrongKey = newSymmetricKey();
    const undecryptable = await http.sendInvoice(accessToken, session.referenceNumber, sendInvoiceBody(buildDemoInvoice(), wrongKey));
    const plain = Buffer.from('<Faktura>not an FA(3) invoice</Faktura>');
    const encrypted = aesEncrypt(plain, session.key);
    const invalid = await http.sendInvoice(accessToken, session.referenceNumber, {
      invoiceHash: sha256Base64(plain),
      invoiceSize: plain.length,
      encryptedInvoiceHash: sha256Base64(encrypted),
      encryptedInvoiceSize: encrypted.length,
      encryptedInvoiceContent: encrypted.toString('base64'),
    });
    const decryptResult = await http.invoiceResult(accessToken, session.referenceNumber, undecryptable.json.referenceNumber);
    expect(decryptResult.status.code).toBe(435);
    expect(decryptResult.status.description).toBe('Błąd odszyfrowania pliku');
    const invalidResult = await http.invoiceResult(accessToken, session.referenceNumber, invalid.json.referenceNumber);
    expect(invalidResult.status).toMatchObject({ code: 430, description: 'Błąd weryfikacji pliku faktury' });
    expect(invalidResult.status.details.length).toBeGreaterThan(0);

    await http.request('POST', `/sessions/online/${session.referenceNumber}/close`, { bearer: accessToken });
    const finished = await http.sessionResult(accessToken, session.referenceNumber);
    expect(finished.status).toEqual({ code: 445, description: 'Błąd weryfikacji, brak poprawnych faktur' });
    expect(finished.upo).toBeUndefined();
  });

  it('cancels a session closed without invoices (440 "Nie przesłano faktur")', async () => {
    const session = await http.openOnlineSession(accessToken);
    await http.request('POST', `/sessions/online/${session.referenceNumber}/close`, { bearer: accessToken });
    const finished = await http.sessionResult(accessToken, session.referenceNumber);
    expect(finished.status).toEqual({ code: 440, description: 'Sesja anulowana', details: ['Nie przesłano faktur'] });
  });

  it('ends a session whose symmetric key cannot be decrypted with status 415', async () => {
    const certificate = await http.publicKey('KsefTokenEncryption');
    const symmetric = await http.publicKey('SymmetricKeyEncryption');
    const key = newSymmetricKey();
    const answer = await http.request('POST', '/sessions/online', {
      bearer: accessToken,
      body: {
        formCode: { systemCode: 'FA (3)', schemaVersion: '1-0E', value: 'FA' },
        // Encrypted for the wrong certificate, announced as the right one.
        encryption: {
          encryptedSymmetricKey: encryptWithCertificate(certificate.certificate, key.key),
          initializationVector: key.iv.toString('base64'),
          publicKeyId: symmetric.publicKeyId,
        },
      },
    });
    expect(answer.status).toBe(201);
    const finished = await http.sessionResult(accessToken, answer.json.referenceNumber);
    expect(finished.status).toEqual({ code: 415, description: 'Błąd odszyfrowania dostarczonego klucza' });
  });

  it('rejects an unknown form code and an unknown publicKeyId', async () => {
    const symmetric = await http.publicKey('SymmetricKeyEncryption');
    const key = newSymmetricKey();
    const encryption = {
      encryptedSymmetricKey: encryptWithCertificate(symmetric.certificate, key.key),
      initializationVector: key.iv.toString('base64'),
    };
    const unknownForm = await http.request('POST', '/sessions/online', {
      bearer: accessToken,
      headers: { 'x-error-format': 'problem-details' },
      body: { formCode: { systemCode: 'FA (9)', schemaVersion: '1-0E', value: 'FA' }, encryption },
    });
    expect(unknownForm.status).toBe(400);
    expect(unknownForm.json.errors).toEqual([
      { code: 21405, description: 'Błąd walidacji danych wejściowych.', details: ['Wskazany kod formularza nie jest wspierany.'] },
    ]);
    const unknownKey = await http.request('POST', '/sessions/online', {
      bearer: accessToken,
      body: {
        formCode: { systemCode: 'FA (3)', schemaVersion: '1-0E', value: 'FA' },
        encryption: { ...encryption, publicKeyId: Buffer.alloc(32).toString('base64') },
      },
    });
    expect(unknownKey.json.exception.exceptionDetailList[0].exceptionCode).toBe(21470);
  });

  it('pages session invoices with x-continuation-token', async () => {
    const session = await http.openOnlineSession(accessToken);
    const sent = [];
    for (let i = 0; i < 12; i++) {
      sent.push(
        (await http.sendInvoice(accessToken, session.referenceNumber, sendInvoiceBody(buildDemoInvoice(), session.key))).json
          .referenceNumber,
      );
    }
    const firstPage = await http.request('GET', `/sessions/${session.referenceNumber}/invoices`, { bearer: accessToken });
    expect(firstPage.json.invoices).toHaveLength(10);
    expect(firstPage.json.continuationToken).toEqual(expect.any(String));
    const secondPage = await http.request('GET', `/sessions/${session.referenceNumber}/invoices`, {
      bearer: accessToken,
      headers: { 'x-continuation-token': firstPage.json.continuationToken },
    });
    expect(secondPage.json.continuationToken).toBeUndefined();
    expect([...firstPage.json.invoices, ...secondPage.json.invoices].map((i: { referenceNumber: string }) => i.referenceNumber)).toEqual(
      sent,
    );
    const badToken = await http.request('GET', `/sessions/${session.referenceNumber}/invoices`, {
      bearer: accessToken,
      headers: { 'x-continuation-token': 'garbage' },
    });
    expect(badToken.json.exception.exceptionDetailList[0].exceptionCode).toBe(21418);

    const listed = await http.request('GET', '/sessions?sessionType=Online&pageSize=100', { bearer: accessToken });
    expect(listed.json.sessions.map((s: { referenceNumber: string }) => s.referenceNumber)).toContain(session.referenceNumber);
  });

  it('answers 403 missing-permissions to a token without InvoiceWrite', async () => {
    const readOnly = sandbox.state.issueKsefToken({
      contextIdentifier: sandbox.contextIdentifier,
      authorIdentifier: { type: 'Nip', value: sandbox.contextIdentifier.value },
      description: 'read-only token',
      permissions: ['InvoiceRead'],
      now: new Date(),
    });
    const { accessToken: readOnlyAccess } = await http.authenticate(readOnly.secret, sandbox.contextIdentifier);
    const denied = await http.openOnlineSession(readOnlyAccess);
    expect(denied.answer.status).toBe(403);
    expect(denied.answer.json).toMatchObject({
      title: 'Forbidden',
      status: 403,
      reasonCode: 'missing-permissions',
      security: {
        requiredAnyOfPermissions: ['InvoiceWrite', 'PefInvoiceWrite', 'EnforcementOperations'],
        presentPermissions: ['InvoiceRead'],
      },
    });
  });

  it('serves only responses that match open-api.json', () => {
    expect(recorder.violations()).toEqual([]);
    for (const operation of [
      'POST /sessions/online 201',
      'POST /sessions/online/{referenceNumber}/invoices 202',
      'POST /sessions/online/{referenceNumber}/invoices 400',
      'POST /sessions/online/{referenceNumber}/close 204',
      'GET /sessions/{referenceNumber} 200',
      'GET /sessions/{referenceNumber}/invoices/{invoiceReferenceNumber} 200',
      'GET /sessions/{referenceNumber}/invoices/failed 200',
      'GET /sessions/{referenceNumber}/upo/{upoReferenceNumber} 200',
      'GET /invoices/ksef/{ksefNumber} 200',
      'POST /sessions/online 403',
    ]) {
      expect(recorder.coverage()).toContain(operation);
    }
  });
});
