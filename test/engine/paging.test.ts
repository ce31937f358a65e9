/**
 * KSeF's two paging strategies (shared/http/paging.ts) over real HTTP against the sandbox, and the route table
 * (shared/http/endpoints.ts) a simple endpoint is declared in.
 */
import { KsefError, KsefInputError, type EnrolledCertificate, type KsefClient } from '../../shared';
import { callEndpoint, endpoint, noResult, pagedEndpoint, pageEndpoint } from '../../shared/http/endpoints';
import { offsetPaging, paginateWithOffset } from '../../shared/http/paging';
import type { KsefRequest, RequestFunction } from '../../shared/http/transport';
import { referenceNumberCheck } from '../../shared/util/input';
import { collect } from './support/collect';
import { certificateClient, PKCS12_PASSWORD, pkcs12Credentials, sealOf } from './support/certificates';
import { clientOf, startRecordedSandbox, type RecordedSandbox } from './support/sandbox';

/** Enough room in the rate windows for the many enrollments and tokens these tests make. */
const ROOMY_LIMITS = { perSecond: 100, perMinute: 1000, perHour: 10000 };

describe('paging over the sandbox', () => {
  let sandbox: RecordedSandbox;
  let owner: KsefClient | undefined;

  beforeEach(async () => {
    sandbox = await startRecordedSandbox({ rateLimits: { other: ROOMY_LIMITS } });
  });
  afterEach(async () => {
    await owner?.close();
    owner = undefined;
    await sandbox.close();
  });

  it('offset: certificates.query asks pageOffset 0, 1, 2 while KSeF says hasMore, and yields every certificate once', async () => {
    owner = certificateClient(sandbox, pkcs12Credentials(sandbox, sealOf(sandbox.contextIdentifier.value, 'ec')));
    const serials: string[] = [];
    for (let i = 1; i <= 23; i++) {
      const enrolled = await owner.certificates.enroll({
        certificateName: `Paged ${i}`,
        certificateType: 'Offline',
        pkcs12Password: PKCS12_PASSWORD,
      });
      serials.push((enrolled as EnrolledCertificate).serialNumber);
    }

    const listed = await collect(owner.certificates.query({ name: 'Paged', pageSize: 10 }));

    expect(listed.map((c) => c.certificateSerialNumber).sort()).toEqual([...serials].sort());
    const pages = sandbox.exchanges
      .filter((e) => e.operation === 'POST /certificates/query')
      .map((e) => new URL(e.url, 'http://x').searchParams);
    expect(pages.map((query) => [query.get('pageOffset'), query.get('pageSize')])).toEqual([
      ['0', '10'],
      ['1', '10'],
      ['2', '10'],
    ]);
  });

  it('offset: a stream is read page by page as consumed', async () => {
    owner = certificateClient(sandbox, pkcs12Credentials(sandbox, sealOf(sandbox.contextIdentifier.value, 'ec')));
    for (let i = 1; i <= 11; i++) {
      await owner.certificates.enroll({ certificateName: `Lazy ${i}`, certificateType: 'Offline', pkcs12Password: PKCS12_PASSWORD });
    }
    const first = await owner.certificates.query({ pageSize: 10 })[Symbol.asyncIterator]().next();
    expect(first.done).toBe(false);
    expect(sandbox.count('POST /certificates/query')).toBe(1);
  });

  it('continuation token: tokens.list follows x-continuation-token until a page has none', async () => {
    owner = clientOf(sandbox);
    const references: string[] = [];
    for (let i = 1; i <= 25; i++) {
      references.push(
        (await owner.tokens.generate({ permissions: ['InvoiceRead'], description: `Paged token ${i}`, waitUntilActive: false }))
          .referenceNumber,
      );
    }

    const listed = await collect(owner.tokens.list({ description: 'paged token', pageSize: 10 }));

    expect(listed.map((t) => t.referenceNumber).sort()).toEqual([...references].sort());
    const requests = sandbox.exchanges.filter((e) => e.operation === 'GET /tokens');
    expect(requests).toHaveLength(3);
    expect(requests[0].requestHeaders['x-continuation-token']).toBeUndefined();
    const tokens = requests.slice(1).map((e) => e.requestHeaders['x-continuation-token']);
    expect(tokens).toEqual([expect.any(String), expect.any(String)]);
    expect(tokens[0]).not.toBe(tokens[1]);
  });
});

/** A request function answering from `pages` in turn and recording what was asked. */
function fakeApi(pages: unknown[]): { api: RequestFunction; requests: KsefRequest[] } {
  const requests: KsefRequest[] = [];
  const api = (async (request: KsefRequest) => {
    requests.push(request);
    return { status: 200, headers: {}, data: pages[requests.length - 1] };
  }) as RequestFunction;
  return { api, requests };
}

describe('offset paging: isTruncated', () => {
  it('ends with an error after the last page KSeF could give when the results were truncated at its cap', async () => {
    const { api, requests } = fakeApi([
      { invoices: [1, 2], hasMore: true, isTruncated: false },
      { invoices: [3], hasMore: false, isTruncated: true },
    ]);
    const seen: number[] = [];
    const failure = await (async () => {
      for await (const item of paginateWithOffset<{ invoices: number[]; hasMore: boolean; isTruncated: boolean }, number>(
        api,
        { method: 'POST', path: '/invoices/query/metadata', query: { pageSize: 2 } },
        (page) => page.invoices,
      )) {
        seen.push(item);
      }
    })().catch((error: unknown) => error);
    expect(seen).toEqual([1, 2, 3]);
    expect(failure).toBeInstanceOf(KsefError);
    expect((failure as Error).message).toMatch(/isTruncated.*narrow the query/);
    expect(requests.map((r) => r.query)).toEqual([
      { pageSize: 2, pageOffset: 0 },
      { pageSize: 2, pageOffset: 1 },
    ]);
  });
});

describe('endpoint table', () => {
  // What a new simple endpoint costs: this entry and its result type.
  interface Grant {
    id: string;
  }
  const table = {
    get: endpoint<[referenceNumber: string, options?: { verbose?: boolean }], Grant>({
      route: 'GET /permissions/operations/{referenceNumber}',
      args: [
        { in: 'path', name: 'referenceNumber', check: referenceNumberCheck('20251010-EH-1B6C9EB000-4B15D3AEB9-89') },
        { in: 'query', check: (options) => ({ verbose: options?.verbose }) },
      ],
    }),
    revoke: endpoint<[permissionId: string, reason?: string], void>({
      route: 'DELETE /permissions/common/grants/{permissionId}',
      args: [
        { in: 'path', name: 'permissionId' },
        { in: 'body', name: 'reason' },
      ],
      idempotent: true,
      result: noResult,
    }),
    query: pagedEndpoint<[options?: { pageSize?: number; type?: string }], Grant>({
      route: 'POST /permissions/query/persons/grants',
      args: [{ in: 'body', check: (options) => ({ type: options?.type }) }],
      paging: offsetPaging('permissions'),
      pageSize: { fallback: 10, min: 10, max: 100 },
    }),
  };

  it('builds the request from the route, the path, query and body arguments, and checks them first', async () => {
    const { api, requests } = fakeApi([{ id: 'a' }, '', { permissions: [{ id: 'p' }], hasMore: false }]);
    await expect(callEndpoint(api, table.get, '20251010-EH-1B6C9EB000-4B15D3AEB9-89', { verbose: true })).resolves.toEqual({ id: 'a' });
    await expect(callEndpoint(api, table.revoke, 'g 1')).resolves.toBeUndefined();
    await expect(collect(pageEndpoint(api, table.query, { type: 'x', pageSize: 20 }))).resolves.toEqual([{ id: 'p' }]);
    expect(requests).toEqual([
      { method: 'GET', path: '/permissions/operations/20251010-EH-1B6C9EB000-4B15D3AEB9-89', query: { verbose: true } },
      { method: 'DELETE', path: '/permissions/common/grants/g%201', json: {}, idempotent: true },
      { method: 'POST', path: '/permissions/query/persons/grants', query: { pageSize: 20, pageOffset: 0 }, json: { type: 'x' } },
    ]);

    const refused = await callEndpoint(api, table.get, '20251010-EH-1B6C9EB000-4B15D3AEB9-8|secret').catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(KsefInputError);
    expect(refused).toMatchObject({ field: 'referenceNumber' });
    await expect(collect(pageEndpoint(api, table.query, { pageSize: 5 }))).rejects.toMatchObject({ field: 'options.pageSize' });
    expect(requests).toHaveLength(3);
  });
});
