/**
 * KSeF tokens (tokeny-ksef.md, CIRFMF/ksef-docs): generated Pending and activated asynchronously, listed and
 * revoked (Revoking, then Revoked) within the visibility rules of the caller's permissions and authentication.
 */
import { KSEF_TOKEN_PERMISSIONS } from '../../shared/protocol/model/identifiers';
import type { KsefTokenStatus } from '../../shared/protocol/types';
import type { SandboxContext } from '../context';
import { formatDateTime } from '../dates';
import { requireArray, requireObject, requireOneOf, requireString } from '../http/input';
import { page } from '../http/paging';
import { principalOf, type RouteDefinition } from '../http/route';
import type { KsefTokenRecord } from './records';
import { accessibleTokens, findToken, generateToken, revokeToken } from './rules';

export function tokenRoutes(ctx: SandboxContext): RouteDefinition[] {
  return [
    {
      method: 'POST',
      path: '/tokens',
      auth: 'accessToken',
      rateLimit: 'other',
      handler: (req) => {
        const body = requireObject(req.json, '(body)');
        const description = requireString(body, 'description', 'description', { minLength: 5, maxLength: 256 });
        const requested = requireArray(body, 'permissions').map((p, i) => requireOneOf(p, KSEF_TOKEN_PERMISSIONS, `permissions[${i}]`));
        const permissions = [...new Set(requested)];
        const token = generateToken(ctx, principalOf(req).operation, description, permissions, req.now);
        return { status: 202, body: { referenceNumber: token.referenceNumber, token: token.secret } };
      },
    },
    {
      method: 'GET',
      path: '/tokens',
      auth: 'accessToken',
      rateLimit: 'other',
      handler: (req) => {
        const statuses = req.query.getAll('status') as KsefTokenStatus[];
        const description = req.query.get('description')?.toLowerCase();
        const author = req.query.get('authorIdentifier')?.toLowerCase();
        const authorType = req.query.get('authorIdentifierType');
        const tokens = accessibleTokens(ctx, principalOf(req).operation, false)
          .filter((t) => statuses.length === 0 || statuses.includes(t.status))
          .filter((t) => !description || t.description.toLowerCase().includes(description))
          .filter((t) => !author || t.authorIdentifier.value.toLowerCase().includes(author))
          .filter((t) => !authorType || t.authorIdentifier.type === authorType)
          .sort((a, b) => b.dateCreated.getTime() - a.dateCreated.getTime());
        const { items, continuationToken } = page(req, tokens, 100);
        return { status: 200, body: { ...(continuationToken && { continuationToken }), tokens: items.map(tokenBody) } };
      },
    },
    {
      method: 'GET',
      path: '/tokens/{referenceNumber}',
      auth: 'accessToken',
      rateLimit: 'other',
      handler: (req) => ({ status: 200, body: tokenBody(findToken(ctx, principalOf(req).operation, req.params.referenceNumber, false)) }),
    },
    {
      method: 'DELETE',
      path: '/tokens/{referenceNumber}',
      auth: 'accessToken',
      rateLimit: 'other',
      handler: (req) => {
        revokeToken(ctx, findToken(ctx, principalOf(req).operation, req.params.referenceNumber, true));
        return { status: 204 };
      },
    },
  ];
}

function tokenBody(token: KsefTokenRecord): Record<string, unknown> {
  return {
    referenceNumber: token.referenceNumber,
    authorIdentifier: token.authorIdentifier,
    contextIdentifier: token.contextIdentifier,
    description: token.description,
    requestedPermissions: token.requestedPermissions,
    dateCreated: formatDateTime(token.dateCreated),
    ...(token.lastUseDate && { lastUseDate: formatDateTime(token.lastUseDate) }),
    status: token.status,
    statusDetails: token.statusDetails ?? [],
  };
}
