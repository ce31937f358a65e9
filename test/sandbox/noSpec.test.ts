/**
 * The sandbox without the official spec folder (`specDir: null`, as when KSEF_SPEC_DIR points nowhere): the
 * handlers repeat the limits of open-api.json that they rely on, so requests are still range-checked.
 */
import { startSandbox, type SandboxHandle } from '../../sandbox';
import { KsefHttp, RELAXED_RATE_LIMITS, exceptionOf } from '../support/ksefHttp';

let sandbox: SandboxHandle;
let http: KsefHttp;
let accessToken: string;
let sessionReferenceNumber: string;

beforeAll(async () => {
  sandbox = await startSandbox({ specDir: null, processingDelayMs: 5, rateLimits: RELAXED_RATE_LIMITS });
  http = new KsefHttp(sandbox.baseUrl);
  ({ accessToken } = await http.authenticate(sandbox.ksefToken, sandbox.contextIdentifier));
  sessionReferenceNumber = (await http.openOnlineSession(accessToken)).referenceNumber;
});

afterAll(async () => {
  await sandbox.close();
});

describe('sandbox without the spec folder', () => {
  /** Every paged GET the sandbox serves, with the pageSize range open-api.json gives it. */
  const pagedEndpoints = (): [string, number][] => [
    ['/sessions?sessionType=Online', 1000],
    [`/sessions/${sessionReferenceNumber}/invoices`, 1000],
    [`/sessions/${sessionReferenceNumber}/invoices/failed`, 1000],
    ['/tokens', 100],
    ['/auth/sessions', 100],
  ];

  it('range-checks pageSize on every paged endpoint as open-api.json says', async () => {
    for (const [path, maximum] of pagedEndpoints()) {
      const separator = path.includes('?') ? '&' : '?';
      for (const pageSize of ['-1', '0', '9', String(maximum + 1), 'abc', '10.5', '']) {
        const answer = await http.request('GET', `${path}${separator}pageSize=${pageSize}`, { bearer: accessToken });
        expect({ path, pageSize, status: answer.status }).toEqual({ path, pageSize, status: 400 });
        expect(exceptionOf(answer)).toMatchObject({
          exceptionCode: 21405,
          details: [`'pageSize' must be an integer from 10 to ${maximum}.`],
        });
      }
      for (const pageSize of ['10', String(maximum)]) {
        const answer = await http.request('GET', `${path}${separator}pageSize=${pageSize}`, { bearer: accessToken });
        expect({ path, pageSize, status: answer.status }).toEqual({ path, pageSize, status: 200 });
      }
    }
  });

  it('checks a Base64 field of many megabytes without failing', async () => {
    const answer = await http.sendInvoice(accessToken, sessionReferenceNumber, {
      invoiceHash: 'A'.repeat(44),
      invoiceSize: 100,
      encryptedInvoiceHash: 'A'.repeat(44),
      encryptedInvoiceSize: 112,
      encryptedInvoiceContent: `${'A'.repeat(6 * 1024 * 1024)}!`,
      offlineMode: false,
    });
    expect(answer.status).toBe(400);
    expect(exceptionOf(answer)).toMatchObject({ exceptionCode: 21405, details: ["'encryptedInvoiceContent' must be Base64."] });
  });
});
