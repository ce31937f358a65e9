/**
 * Active authentication sessions (auth/sesje.md, CIRFMF/ksef-docs): listing the context's sessions and revoking
 * them. Revoking sets status 425 and stops the refresh token; access tokens already issued live until they expire.
 */
import { principalOf, type RouteDefinition, type SandboxContext, type SandboxRequest } from '../context';
import { inputValidationError } from '../errors';
import type { AuthenticationOperation } from '../state';
import { AUTH_STATUS, operationStatusBody } from './auth';
import { page } from './paging';

export function authSessionRoutes(ctx: SandboxContext): RouteDefinition[] {
  const { state } = ctx;

  /** Sessions of the caller's context that succeeded and whose refresh token (or authentication token) still works. */
  function activeSessions(req: SandboxRequest): AuthenticationOperation[] {
    const { contextIdentifier } = principalOf(req).operation;
    return [...state.authOperations.values()]
      .filter((o) => o.contextIdentifier.type === contextIdentifier.type && o.contextIdentifier.value === contextIdentifier.value)
      .filter((o) => o.status.code === 200 && (!o.refreshTokenValidUntil || o.refreshTokenValidUntil > req.now))
      .sort((a, b) => b.startDate.getTime() - a.startDate.getTime());
  }

  function revoke(operation: AuthenticationOperation): { status: number } {
    operation.status = AUTH_STATUS.revoked;
    return { status: 204 };
  }

  return [
    {
      method: 'GET',
      path: '/auth/sessions',
      auth: 'accessToken',
      rateLimit: 'other',
      handler: (req) => {
        const current = principalOf(req).operation.referenceNumber;
        const { items, continuationToken } = page(req, activeSessions(req), 100);
        return {
          status: 200,
          body: {
            ...(continuationToken && { continuationToken }),
            items: items.map((o) => ({ referenceNumber: o.referenceNumber, isCurrent: o.referenceNumber === current, ...operationStatusBody(o) })),
          },
        };
      },
    },
    {
      method: 'DELETE',
      path: '/auth/sessions/current',
      auth: 'sessionToken',
      rateLimit: 'other',
      handler: (req) => revoke(principalOf(req).operation),
    },
    {
      method: 'DELETE',
      path: '/auth/sessions/{referenceNumber}',
      auth: 'accessToken',
      rateLimit: 'other',
      handler: (req) => {
        const referenceNumber = req.params.referenceNumber;
        const operation = activeSessions(req).find((o) => o.referenceNumber === referenceNumber);
        if (!operation) throw inputValidationError([`Aktywna sesja uwierzytelnienia o numerze referencyjnym ${referenceNumber} nie została znaleziona.`]);
        return revoke(operation);
      },
    },
  ];
}
