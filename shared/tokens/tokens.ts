/** The KSeF tokens chapter ("Tokeny KSeF" of open-api.json, CIRFMF/ksef-api). */
import type { Clock, KsefTokenPermission, KsefTokenStatus, Logger, Sleep } from '../protocol/types';
import type { GenerateKsefTokenOptions, GeneratedKsefToken, KsefTokenInfo, ListKsefTokensOptions } from './types';
import { KsefError, KsefInputError, KsefTimeoutError } from '../http/errors';
import type { RequestFunction } from '../http/transport';
import { continuationTokenPaging } from '../http/paging';
import { callEndpoint, endpoint, noResult, pagedEndpoint } from '../http/endpoints';
import { pollUntil } from '../http/backoff';
import { referenceNumberCheck } from '../util/input';
import { KSEF_TOKEN_PERMISSIONS } from '../protocol/model/identifiers';

export interface KsefTokenDeps {
  /** Authenticated requests. */
  api: RequestFunction;
  clock: Clock;
  sleep: Sleep;
  logger?: Logger;
}

const TOKEN_STATUSES: readonly KsefTokenStatus[] = ['Pending', 'Active', 'Revoking', 'Revoked', 'Failed'];
const AUTHOR_IDENTIFIER_TYPES = ['Nip', 'Pesel', 'Fingerprint'] as const;
const DEFAULT_ACTIVATION_TIMEOUT_MS = 60_000;
const TOKEN_REFERENCE_EXAMPLE = '20251010-EC-1DCE3E3000-12ECB5B36E-45';

/**
 * `POST /tokens`, then, unless told otherwise, waits for the token to leave `Pending`.
 * The secret is handed back once and never logged. Once KSeF has generated the token, nothing but its
 * activation failing loses it: when the status cannot be read (activation takes longer than allowed, the
 * network fails, KSeF answers 5xx, 429 or 401), the token is returned with status `Pending`, because KSeF
 * never shows its secret again and the token may well become Active.
 */
export async function generateKsefToken(deps: KsefTokenDeps, options: GenerateKsefTokenOptions): Promise<GeneratedKsefToken> {
  const { permissions, description } = checkGenerateOptions(options);
  const waitUntilActive = options.waitUntilActive ?? true;
  const timeoutMs = options.activationTimeoutMs ?? DEFAULT_ACTIVATION_TIMEOUT_MS;
  if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new KsefInputError('options.activationTimeoutMs must be a positive number of milliseconds.', {
      field: 'options.activationTimeoutMs',
    });
  }

  const { data } = await deps.api<{ referenceNumber: string; token: string }>({
    method: 'POST',
    path: '/tokens',
    json: { permissions, description },
  });
  const { referenceNumber } = data;
  deps.logger?.info('KSeF token generated', { referenceNumber, permissions });
  if (!waitUntilActive) return { referenceNumber, token: data.token, status: 'Pending' };

  let info: KsefTokenInfo;
  try {
    info = await pollUntil(
      () => callEndpoint(deps.api, tokenEndpoints.get, referenceNumber),
      (current) => current.status !== 'Pending',
      {
        clock: deps.clock,
        sleep: deps.sleep,
        timeoutMs,
        onTimeout: () =>
          new KsefTimeoutError(`KSeF did not activate token ${referenceNumber} within ${timeoutMs} ms (options.activationTimeoutMs).`),
      },
    );
  } catch (error) {
    deps.logger?.warn('KSeF token not active yet; returning it as Pending', {
      referenceNumber,
      reason: error instanceof Error ? error.message : String(error),
    });
    return { referenceNumber, token: data.token, status: 'Pending' };
  }
  if (info.status === 'Failed') {
    const details = info.statusDetails?.length ? `: ${info.statusDetails.join(' ')}` : '';
    throw new KsefError(`KSeF could not activate token ${referenceNumber}${details}. Generate a new token; this one cannot be used.`);
  }
  return { referenceNumber, token: data.token, status: info.status };
}

function checkGenerateOptions(options: GenerateKsefTokenOptions): { permissions: KsefTokenPermission[]; description: string } {
  if (!options || typeof options !== 'object') {
    throw new KsefInputError('tokens.generate needs { permissions, description }.', { field: 'options' });
  }
  const { permissions, description } = options;
  if (!Array.isArray(permissions) || permissions.length === 0) {
    throw new KsefInputError(`options.permissions must list at least one of ${KSEF_TOKEN_PERMISSIONS.join(', ')}.`, {
      field: 'options.permissions',
    });
  }
  permissions.forEach((permission, i) => {
    if (!KSEF_TOKEN_PERMISSIONS.includes(permission)) {
      throw new KsefInputError(
        `options.permissions[${i}] must be one of ${KSEF_TOKEN_PERMISSIONS.join(', ')}; got ${JSON.stringify(permission)}.`,
        {
          field: `options.permissions[${i}]`,
        },
      );
    }
  });
  if (typeof description !== 'string' || description.trim().length < 5 || description.length > 256) {
    throw new KsefInputError('options.description must be 5 to 256 characters describing what the token is for.', {
      field: 'options.description',
    });
  }
  return { permissions: [...new Set(permissions)], description };
}

/** `GET /tokens` filters, checked; `pageSize` is the table's. */
function tokenFilters(options: ListKsefTokensOptions = {}) {
  const statuses = options.status === undefined ? [] : [options.status].flat();
  statuses.forEach((status, i) => {
    if (!TOKEN_STATUSES.includes(status)) {
      throw new KsefInputError(
        `options.status${Array.isArray(options.status) ? `[${i}]` : ''} must be one of ${TOKEN_STATUSES.join(', ')}.`,
        {
          field: 'options.status',
        },
      );
    }
  });
  for (const field of ['description', 'authorIdentifier'] as const) {
    const value = options[field];
    if (value !== undefined && (typeof value !== 'string' || value.trim().length < 3)) {
      throw new KsefInputError(`options.${field} must be at least 3 characters (KSeF searches for it as part of the ${field}).`, {
        field: `options.${field}`,
      });
    }
  }
  if (options.authorIdentifierType !== undefined && !AUTHOR_IDENTIFIER_TYPES.includes(options.authorIdentifierType)) {
    throw new KsefInputError(`options.authorIdentifierType must be one of ${AUTHOR_IDENTIFIER_TYPES.join(', ')}.`, {
      field: 'options.authorIdentifierType',
    });
  }
  if (options.authorIdentifierType !== undefined && options.authorIdentifier === undefined) {
    throw new KsefInputError('options.authorIdentifierType narrows options.authorIdentifier: give both.', {
      field: 'options.authorIdentifier',
    });
  }
  return {
    ...(statuses.length > 0 && { status: statuses }),
    description: options.description,
    authorIdentifier: options.authorIdentifier,
    authorIdentifierType: options.authorIdentifierType,
  };
}

const tokenReference = referenceNumberCheck(TOKEN_REFERENCE_EXAMPLE);

/** The simple endpoints of the chapter (see `shared/http/endpoints.ts`). */
export const tokenEndpoints = {
  /** Tokens visible to the caller, newest first, page by page. */
  list: pagedEndpoint<[options?: ListKsefTokensOptions], KsefTokenInfo>({
    route: 'GET /tokens',
    args: [{ in: 'query', check: tokenFilters }],
    paging: continuationTokenPaging('tokens'),
    pageSize: { fallback: 100, min: 10, max: 100 },
  }),
  get: endpoint<[referenceNumber: string], KsefTokenInfo>({
    route: 'GET /tokens/{referenceNumber}',
    args: [{ in: 'path', name: 'referenceNumber', check: tokenReference }],
  }),
  /** The token stops authenticating. Repeating a revocation is harmless. */
  revoke: endpoint<[referenceNumber: string], void>({
    route: 'DELETE /tokens/{referenceNumber}',
    args: [{ in: 'path', name: 'referenceNumber', check: tokenReference }],
    idempotent: true,
    result: noResult,
  }),
};
