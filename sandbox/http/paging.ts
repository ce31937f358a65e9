/** `x-continuation-token` paging: the token is opaque to clients; here it encodes the next offset. */
import type { SandboxRequest } from './route';
import { ksefException } from './errors';
import { queryInteger } from './input';

/** Every page size starts at 10 (the default); `maxPageSize` is the operation's maximum in open-api.json. */
const MIN_PAGE_SIZE = 10;

export function page<T>(req: SandboxRequest, items: T[], maxPageSize: number): { continuationToken?: string; items: T[] } {
  const pageSize = queryInteger(req, 'pageSize', MIN_PAGE_SIZE, MIN_PAGE_SIZE, maxPageSize);
  const token = req.headers['x-continuation-token'];
  let offset = 0;
  if (typeof token === 'string' && token !== '') {
    const decoded = /^o:(\d+)$/.exec(Buffer.from(token, 'base64url').toString('utf8'));
    if (!decoded) throw ksefException(21418);
    offset = Number(decoded[1]);
  }
  const next = offset + pageSize;
  return {
    items: items.slice(offset, next),
    ...(next < items.length && { continuationToken: Buffer.from(`o:${next}`, 'utf8').toString('base64url') }),
  };
}
