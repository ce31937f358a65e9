import type { AuthTokens, Clock, Logger, Sleep, StatusInfo } from '../types';
import { KsefAuthError, KsefTimeoutError } from '../http/errors';
import type { RequestFunction } from '../http/transport';
import { pollUntil } from '../http/backoff';
import type { PublicKeys } from '../crypto/publicKeys';
import type { AuthChallenge, AuthenticationMethod } from './method';

export interface AuthenticationDeps {
  /** Unauthenticated requests to the KSeF API. */
  request: RequestFunction;
  publicKeys: PublicKeys;
  clock: Clock;
  sleep: Sleep;
  logger?: Logger;
  authTimeoutMs: number;
}

const IN_PROGRESS = 100;
const SUCCEEDED = 200;

/**
 * Runs one authentication operation to the end (NOTES.md 3.1): start it with the method, poll
 * `GET /auth/{ref}` until it finishes, then redeem its tokens (possible only once).
 */
export async function runAuthentication(method: AuthenticationMethod, deps: AuthenticationDeps): Promise<AuthTokens> {
  const { request, clock, sleep, logger } = deps;
  const operation = await method.start({
    request,
    publicKeys: deps.publicKeys,
    newChallenge: async () => (await request<AuthChallenge>({ method: 'POST', path: '/auth/challenge', idempotent: true })).data,
  });
  const { referenceNumber } = operation;
  const bearerToken = operation.authenticationToken.token;

  const { status } = await pollUntil(
    async () =>
      (await request<{ status: StatusInfo }>({ method: 'GET', path: `/auth/${referenceNumber}`, bearerToken })).data,
    (state) => state.status.code !== IN_PROGRESS,
    {
      clock,
      sleep,
      timeoutMs: deps.authTimeoutMs,
      onTimeout: () =>
        new KsefTimeoutError(
          `KSeF did not finish authentication ${referenceNumber} within ${deps.authTimeoutMs} ms; try again or raise authTimeoutMs.`,
          { field: 'authTimeoutMs' },
        ),
    },
  );
  if (status.code !== SUCCEEDED) {
    const details = status.details?.length ? `: ${status.details.join(' ')}` : '';
    throw new KsefAuthError(
      `KSeF refused authentication ${referenceNumber} (${status.code} ${status.description})${details} Check ${method.credentialField} and the context identifier.`,
      {
        exceptions: [{ code: status.code, description: status.description, ...(status.details && { details: status.details }) }],
        field: method.credentialField,
      },
    );
  }

  const tokens = (await request<AuthTokens>({ method: 'POST', path: '/auth/token/redeem', bearerToken })).data;
  logger?.info('KSeF authentication succeeded', { referenceNumber, accessTokenValidUntil: tokens.accessToken.validUntil });
  return { accessToken: tokens.accessToken, refreshToken: tokens.refreshToken, referenceNumber };
}
