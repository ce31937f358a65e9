/** Which authentication sessions are active and what revoking one does (auth/sesje.md, CIRFMF/ksef-docs). */
import type { ContextIdentifier } from '../../shared/protocol/types';
import { sameContext, type AuthenticationOperation } from '../auth/records';
import { AUTH_STATUS } from '../catalogue';
import type { SandboxContext } from '../context';

/** Sessions of the context that succeeded and whose refresh token (or authentication token) still works, newest first. */
export function activeSessions(ctx: SandboxContext, context: ContextIdentifier, now: Date): AuthenticationOperation[] {
  return [...ctx.state.authOperations.values()]
    .filter((o) => sameContext(o.contextIdentifier, context))
    .filter((o) => o.status.code === 200 && (!o.refreshTokenValidUntil || o.refreshTokenValidUntil > now))
    .sort((a, b) => b.startDate.getTime() - a.startDate.getTime());
}

/** Status 425: the refresh token stops working; access tokens already issued live until they expire. */
export function revokeAuthentication(operation: AuthenticationOperation): void {
  operation.status = AUTH_STATUS.revoked;
}
