/**
 * Active authentication sessions (auth/sesje.md, CIRFMF/ksef-docs): listing the context's sessions and revoking
 * them. Revoking sets status 425 and stops the refresh token; access tokens already issued live until they expire.
 */
import type { SandboxContext } from '../context';
import { inputValidationError } from '../http/errors';
import { page } from '../http/paging';
import { principalOf, type RouteDefinition } from '../http/route';
import { operationStatusBody } from '../auth/routes';
import { activeSessions, revokeAuthentication } from './rules';

export function authSessionRoutes(ctx: SandboxContext): RouteDefinition[] {
  return [
    {
      method: 'GET',
      path: '/auth/sessions',
      auth: 'accessToken',
      rateLimit: 'other',
      handler: (req) => {
        const current = principalOf(req).operation.referenceNumber;
        const { items, continuationToken } = page(req, activeSessions(ctx, principalOf(req).operation.contextIdentifier, req.now), 100);
        return {
          status: 200,
          body: {
            ...(continuationToken && { continuationToken }),
            items: items.map((o) => ({
              referenceNumber: o.referenceNumber,
              isCurrent: o.referenceNumber === current,
              ...operationStatusBody(o),
            })),
          },
        };
      },
    },
    {
      method: 'DELETE',
      path: '/auth/sessions/current',
      auth: 'sessionToken',
      rateLimit: 'other',
      handler: (req) => {
        revokeAuthentication(principalOf(req).operation);
        return { status: 204 };
      },
    },
    {
      method: 'DELETE',
      path: '/auth/sessions/{referenceNumber}',
      auth: 'accessToken',
      rateLimit: 'other',
      handler: (req) => {
        const referenceNumber = req.params.referenceNumber;
        const operation = activeSessions(ctx, principalOf(req).operation.contextIdentifier, req.now).find(
          (o) => o.referenceNumber === referenceNumber,
        );
        if (!operation)
          throw inputValidationError([`Aktywna sesja uwierzytelnienia o numerze referencyjnym ${referenceNumber} nie została znaleziona.`]);
        revokeAuthentication(operation);
        return { status: 204 };
      },
    },
  ];
}
