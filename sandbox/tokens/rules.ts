/** KSeF tokens as KSeF manages them (tokeny-ksef.md, CIRFMF/ksef-docs; open-api.json): who may generate, see and revoke which. */
import type { ContextIdentifier, KsefTokenPermission } from '../../shared/protocol/types';
import { sameContext, subjectKey, type AuthenticationOperation } from '../auth/records';
import type { SandboxContext } from '../context';
import { authMethodNotAllowed, inputValidationError, ksefException } from '../http/errors';
import type { KsefTokenRecord } from './records';

/** Contexts a token can be generated for (26002 otherwise; open-api.json). */
const TOKEN_CONTEXT_TYPES: ContextIdentifier['type'][] = ['Nip', 'InternalId'];

/**
 * A new token of the caller's context, `Pending` until KSeF activates it. The caller must hold every permission it
 * gives the token (26001) and must have authenticated with a signature once (tokeny-ksef.md).
 */
export function generateToken(
  ctx: SandboxContext,
  operation: AuthenticationOperation,
  description: string,
  permissions: KsefTokenPermission[],
  now: Date,
): KsefTokenRecord {
  if (!TOKEN_CONTEXT_TYPES.includes(operation.contextIdentifier.type)) {
    throw ksefException(
      26002,
      `Bieżący typ kontekstu: ${operation.contextIdentifier.type}. Dozwolone typy kontekstu: ${TOKEN_CONTEXT_TYPES.join(', ')}.`,
    );
  }
  const missing = permissions.filter((p) => !operation.permissions.includes(p));
  if (missing.length > 0) throw ksefException(26001, `Brakujące uprawnienia: ${missing.join(', ')}.`);
  if (!operation.subject || !ctx.state.xadesAuthenticatedSubjects.has(subjectKey(operation.subject))) {
    throw authMethodNotAllowed(
      operation.methodInfo.category,
      'Wygenerowanie tokena KSeF wymaga wcześniejszego uwierzytelnienia podpisem elektronicznym (XAdES).',
    );
  }
  const token = ctx.state.issueKsefToken({
    contextIdentifier: operation.contextIdentifier,
    authorIdentifier: operation.subject,
    description,
    permissions,
    now,
    status: 'Pending',
  });
  ctx.scheduler.after(ctx.processingDelayMs, () => {
    if (token.status === 'Pending') token.status = 'Active';
  });
  return token;
}

/**
 * Tokens the caller may see (`manage`: revoke): with CredentialsManage (or, to see, CredentialsRead) every token of
 * the context; otherwise a token-authenticated caller only its own token, anyone else the tokens they authored.
 */
export function accessibleTokens(ctx: SandboxContext, operation: AuthenticationOperation, manage: boolean): KsefTokenRecord[] {
  const inContext = [...ctx.state.ksefTokens.values()].filter((t) => sameContext(t.contextIdentifier, operation.contextIdentifier));
  const broad = manage ? ['CredentialsManage'] : ['CredentialsManage', 'CredentialsRead'];
  if (operation.permissions.some((p) => broad.includes(p))) return inContext;
  if (operation.tokenReferenceNumber) return inContext.filter((t) => t.referenceNumber === operation.tokenReferenceNumber);
  return inContext.filter((t) => operation.subject && subjectKey(t.authorIdentifier) === subjectKey(operation.subject));
}

export function findToken(
  ctx: SandboxContext,
  operation: AuthenticationOperation,
  referenceNumber: string,
  manage: boolean,
): KsefTokenRecord {
  const token = accessibleTokens(ctx, operation, manage).find((t) => t.referenceNumber === referenceNumber);
  if (!token) throw inputValidationError([`Token o numerze referencyjnym ${referenceNumber} nie został znaleziony.`]);
  return token;
}

/** `Revoking`, then `Revoked` after the processing delay; a revoked token stays revoked. */
export function revokeToken(ctx: SandboxContext, token: KsefTokenRecord): void {
  if (token.status === 'Revoked') return;
  token.status = 'Revoking';
  ctx.scheduler.after(ctx.processingDelayMs, () => {
    token.status = 'Revoked';
  });
}
