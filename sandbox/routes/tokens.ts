/**
 * KSeF tokens (tokeny-ksef.md, CIRFMF/ksef-docs): generated Pending and activated asynchronously, listed and
 * revoked (Revoking, then Revoked) within the visibility rules of the caller's permissions and authentication.
 */
import type { ContextIdentifier } from '../../shared/protocol/types';
import { principalOf, type Principal, type RouteDefinition, type SandboxContext, type SandboxRequest } from '../context';
import { formatDateTime } from '../dates';
import { authMethodNotAllowed, inputValidationError, ksefException } from '../errors';
import { sameContext, subjectKey, type KsefTokenRecord } from '../state';
import type { KsefTokenStatus } from '../../shared/protocol/types';
import { KSEF_TOKEN_PERMISSIONS } from '../../shared/protocol/model/identifiers';
import { requireArray, requireObject, requireOneOf, requireString } from './input';
import { page } from './paging';

const TOKEN_CONTEXT_TYPES: ContextIdentifier['type'][] = ['Nip', 'InternalId'];

export function tokenRoutes(ctx: SandboxContext): RouteDefinition[] {
  const { state } = ctx;

  /**
   * Tokens the caller may see (`manage`: revoke): with CredentialsManage (or, to see, CredentialsRead) every token of
   * the context; otherwise a token-authenticated caller only its own token, anyone else the tokens they authored.
   */
  function accessibleTokens(principal: Principal, manage: boolean): KsefTokenRecord[] {
    const { operation } = principal;
    const inContext = [...state.ksefTokens.values()].filter((t) => sameContext(t.contextIdentifier, operation.contextIdentifier));
    const broad = manage ? ['CredentialsManage'] : ['CredentialsManage', 'CredentialsRead'];
    if (operation.permissions.some((p) => broad.includes(p))) return inContext;
    if (operation.tokenReferenceNumber) return inContext.filter((t) => t.referenceNumber === operation.tokenReferenceNumber);
    return inContext.filter((t) => operation.subject && subjectKey(t.authorIdentifier) === subjectKey(operation.subject));
  }

  function findToken(req: SandboxRequest, manage: boolean): KsefTokenRecord {
    const referenceNumber = req.params.referenceNumber;
    const token = accessibleTokens(principalOf(req), manage).find((t) => t.referenceNumber === referenceNumber);
    if (!token) throw inputValidationError([`Token o numerze referencyjnym ${referenceNumber} nie został znaleziony.`]);
    return token;
  }

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
        const { operation } = principalOf(req);
        if (!TOKEN_CONTEXT_TYPES.includes(operation.contextIdentifier.type)) {
          throw ksefException(26002, `Bieżący typ kontekstu: ${operation.contextIdentifier.type}. Dozwolone typy kontekstu: ${TOKEN_CONTEXT_TYPES.join(', ')}.`);
        }
        const missing = permissions.filter((p) => !operation.permissions.includes(p));
        if (missing.length > 0) throw ksefException(26001, `Brakujące uprawnienia: ${missing.join(', ')}.`);
        // Generating tokens needs a one-time signature authentication of the subject (tokeny-ksef.md).
        if (!operation.subject || !state.xadesAuthenticatedSubjects.has(subjectKey(operation.subject))) {
          throw authMethodNotAllowed(
            operation.methodInfo.category,
            'Wygenerowanie tokena KSeF wymaga wcześniejszego uwierzytelnienia podpisem elektronicznym (XAdES).',
          );
        }
        const token = state.issueKsefToken({
          contextIdentifier: operation.contextIdentifier,
          authorIdentifier: operation.subject,
          description,
          permissions,
          now: req.now,
          status: 'Pending',
        });
        ctx.scheduler.after(ctx.processingDelayMs, () => {
          if (token.status === 'Pending') token.status = 'Active';
        });
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
        const tokens = accessibleTokens(principalOf(req), false)
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
      handler: (req) => ({ status: 200, body: tokenBody(findToken(req, false)) }),
    },
    {
      method: 'DELETE',
      path: '/tokens/{referenceNumber}',
      auth: 'accessToken',
      rateLimit: 'other',
      handler: (req) => {
        const token = findToken(req, true);
        if (token.status !== 'Revoked') {
          token.status = 'Revoking';
          ctx.scheduler.after(ctx.processingDelayMs, () => {
            token.status = 'Revoked';
          });
        }
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
