/** `x-continuation-token` paging: the token is opaque to clients; here it encodes the next offset. */
import type { SandboxRequest } from '../context';
import { ksefException } from '../errors';

export function page<T>(req: SandboxRequest, items: T[], defaultPageSize = 10): { continuationToken?: string; items: T[] } {
  const pageSize = Number(req.query.get('pageSize') ?? defaultPageSize) || defaultPageSize;
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
