/**
 * Requests that are unusual at the HTTP level: request targets that cannot be decoded, absolute-form request
 * lines, methods a path does not serve, HEAD and OPTIONS, and Base64 fields of many megabytes. Each gets a
 * proper HTTP answer in KSeF's error format, never a 500.
 */
import { connect } from 'node:net';
import { startSandbox, type SandboxHandle } from '../../sandbox';
import { ContractRecorder } from '../support/contract';
import { KsefHttp, RELAXED_RATE_LIMITS, exceptionOf } from '../support/ksefHttp';

const recorder = new ContractRecorder();
let sandbox: SandboxHandle;
let http: KsefHttp;
let accessToken: string;
let port: number;

beforeAll(async () => {
  sandbox = await startSandbox({ processingDelayMs: 5, rateLimits: RELAXED_RATE_LIMITS, onExchange: recorder.record });
  http = new KsefHttp(sandbox.baseUrl);
  port = Number(new URL(sandbox.baseUrl).port);
  ({ accessToken } = await http.authenticate(sandbox.ksefToken, sandbox.contextIdentifier));
});

afterAll(async () => {
  await sandbox.close();
});

interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
  json: any;
}

/** Sends `requestLine` and `headers` as written (fetch would normalise the request target) and reads the answer. */
function rawRequest(requestLine: string, headers: Record<string, string> = {}): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const [head, ...rest] = text.split('\r\n\r\n');
      const [statusLine, ...headerLines] = head.split('\r\n');
      const parsed: Record<string, string> = {};
      for (const line of headerLines) {
        const colon = line.indexOf(':');
        parsed[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
      }
      const body = rest.join('\r\n\r\n');
      resolve({
        status: Number(statusLine.split(' ')[1]),
        headers: parsed,
        body,
        json: body && /json/.test(parsed['content-type'] ?? '') ? JSON.parse(body) : undefined,
      });
    });
    const lines = [
      requestLine,
      `Host: 127.0.0.1:${port}`,
      'Connection: close',
      ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
    ];
    socket.end(`${lines.join('\r\n')}\r\n\r\n`);
  });
}

describe('request targets', () => {
  it('answers a malformed percent-escape in the path with 400 / 21405, as ExceptionResponse or problem+json as asked', async () => {
    const classic = await rawRequest('GET /v2/sessions/%ZZ HTTP/1.1', { Authorization: `Bearer ${accessToken}` });
    expect(classic.status).toBe(400);
    expect(classic.headers['content-type']).toMatch(/^application\/json/);
    expect(exceptionOf(classic)).toMatchObject({ exceptionCode: 21405, exceptionDescription: 'Błąd walidacji danych wejściowych.' });
    expect(exceptionOf(classic).details).toEqual([expect.stringContaining('%ZZ')]);

    const problem = await rawRequest('GET /v2/sessions/%ZZ/invoices HTTP/1.1', { 'X-Error-Format': 'problem-details' });
    expect(problem.status).toBe(400);
    expect(problem.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(problem.json).toMatchObject({
      title: 'Bad Request',
      status: 400,
      instance: '/v2/sessions/%ZZ/invoices',
      errors: [{ code: 21405 }],
    });
  });

  it('serves an absolute-form request line by its path and answers one with an invalid authority with 400', async () => {
    const served = await rawRequest(`GET http://127.0.0.1:${port}/v2/security/public-key-certificates HTTP/1.1`);
    expect(served.status).toBe(200);
    expect(Array.isArray(served.json)).toBe(true);

    const invalid = await rawRequest('GET http://a:99999/v2/security/public-key-certificates HTTP/1.1');
    expect(invalid.status).toBe(400);
    expect(exceptionOf(invalid)).toMatchObject({
      exceptionCode: 21405,
      details: [expect.stringContaining('http://a:99999/v2/security/public-key-certificates')],
    });
  });
});

describe('methods', () => {
  it('answers a method a path does not serve with 405, Allow and a problem+json body', async () => {
    const wrong = await http.request('DELETE', '/certificates/enrollments');
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('POST, OPTIONS');
    expect(wrong.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(wrong.json).toMatchObject({ title: 'Method Not Allowed', status: 405, instance: '/v2/certificates/enrollments' });

    const onSession = await http.request('PUT', '/sessions/online/20260504-SO-0000000000-0000000000-00/invoices', { bearer: accessToken });
    expect(onSession.status).toBe(405);
    expect(onSession.headers.get('allow')).toBe('POST, OPTIONS');

    const onGet = await http.request('POST', '/security/public-key-certificates');
    expect(onGet.status).toBe(405);
    expect(onGet.headers.get('allow')).toBe('GET, HEAD, OPTIONS');
  });

  it('answers HEAD as GET without the body', async () => {
    const get = await http.request('GET', '/security/public-key-certificates');
    const head = await rawRequest('HEAD /v2/security/public-key-certificates HTTP/1.1');
    expect(head.status).toBe(200);
    expect(head.headers['content-type']).toBe(get.headers.get('content-type'));
    expect(Number(head.headers['content-length'])).toBe(Buffer.byteLength(get.text));
    expect(head.body).toBe('');
  });

  it('answers OPTIONS with the methods of the path in Allow, and 404 for a path it does not serve', async () => {
    const sessions = await http.request('OPTIONS', '/sessions/20260504-SO-0000000000-0000000000-00/invoices');
    expect(sessions.status).toBe(204);
    expect(sessions.headers.get('allow')).toBe('GET, HEAD, OPTIONS');
    expect((await http.request('OPTIONS', '/tokens')).headers.get('allow')).toBe('GET, HEAD, POST, OPTIONS');
    expect((await http.request('OPTIONS', '/no-such-endpoint')).status).toBe(404);

    // Asterisk-form asks about the server as a whole.
    const server = await rawRequest('OPTIONS * HTTP/1.1');
    expect(server.status).toBe(204);
    expect(server.headers.allow).toBe('GET, HEAD, POST, DELETE, OPTIONS');
  });
});

describe('Base64 fields of many megabytes', () => {
  it('checks a 6 MB encryptedInvoiceContent like a small one: 21405 when it is not Base64, 21402 when its size is wrong', async () => {
    const session = await http.openOnlineSession(accessToken);
    const body = {
      invoiceHash: 'A'.repeat(44),
      invoiceSize: 100,
      encryptedInvoiceHash: 'A'.repeat(44),
      encryptedInvoiceSize: 112,
      offlineMode: false,
    };
    const large = 'A'.repeat(6 * 1024 * 1024);
    const notBase64 = await http.sendInvoice(accessToken, session.referenceNumber, { ...body, encryptedInvoiceContent: `${large}!` });
    expect(notBase64.status).toBe(400);
    expect(exceptionOf(notBase64)).toMatchObject({ exceptionCode: 21405, details: [expect.stringContaining('encryptedInvoiceContent')] });

    const wrongSize = await http.sendInvoice(accessToken, session.referenceNumber, { ...body, encryptedInvoiceContent: large });
    expect(wrongSize.status).toBe(400);
    expect(exceptionOf(wrongSize).exceptionCode).toBe(21402);
  });
});

describe('contract', () => {
  it('serves only responses that match open-api.json', () => {
    expect(recorder.violations()).toEqual([]);
  });
});
