import type { Clock, Logger, Sleep, StatusInfo } from '../protocol/types';
import type { AuthTokens } from './types';
import { KsefAuthError, KsefNetworkError, KsefTimeoutError } from '../http/errors';
import type { RequestFunction } from '../http/transport';
import { pollUntil } from '../http/backoff';
import type { PublicKeys } from '../security/publicKeys';
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
 * Authenticates, starting afresh once when the answer to one of the authentication's POSTs was lost (connection
 * cut, no response). The transport never repeats those: KSeF may already have started the operation, or
 * redeemed its tokens, which can happen only once. A fresh authentication (new challenge, new operation) is the
 * safe repeat; the operation left behind just expires.
 */
export async function runAuthentication(method: AuthenticationMethod, deps: AuthenticationDeps): Promise<AuthTokens> {
  const lostAnswers: string[] = [];
  const request = recordingLostAnswers(deps.request, lostAnswers);
  try {
    return await authenticateOnce(method, { ...deps, request });
  } catch (error) {
    if (!(error instanceof KsefNetworkError) || lostAnswers.length === 0) throw error;
    deps.logger?.warn('KSeF authentication got no answer; starting a fresh authentication', { request: lostAnswers[0] });
  }
  try {
    return await authenticateOnce(method, { ...deps, request });
  } catch (error) {
    if (!(error instanceof KsefNetworkError) || lostAnswers.length < 2) throw error;
    throw new KsefNetworkError(
      `Could not authenticate with KSeF: no answer came to ${lostAnswers[0]}, nor, after a fresh start, to ${lostAnswers[1]}. Check the connection to KSeF and try again. (${error.message})`,
      { cause: error },
    );
  }
}

/** The request function, noting each request that is not safe to repeat and failed without an answer. */
function recordingLostAnswers(request: RequestFunction, lostAnswers: string[]): RequestFunction {
  return async <T>(options: Parameters<RequestFunction>[0]) => {
    try {
      return await request<T>(options);
    } catch (error) {
      if (error instanceof KsefNetworkError && !(options.idempotent ?? options.method === 'GET')) {
        lostAnswers.push(`${options.method} ${options.path}`);
      }
      throw error;
    }
  };
}

/**
 * Runs one authentication operation to the end (uwierzytelnianie.md, CIRFMF/ksef-docs): start it with the method,
 * poll `GET /auth/{ref}` until it finishes, then redeem its tokens (possible only once).
 */
async function authenticateOnce(method: AuthenticationMethod, deps: AuthenticationDeps): Promise<AuthTokens> {
  const { request, clock, sleep, logger } = deps;
  const operation = await method.start({
    request,
    publicKeys: deps.publicKeys,
    newChallenge: async () => (await request<AuthChallenge>({ method: 'POST', path: '/auth/challenge', idempotent: true })).data,
  });
  const { referenceNumber } = operation;
  const bearerToken = operation.authenticationToken.token;

  const { status } = await pollUntil(
    async () => (await request<{ status: StatusInfo }>({ method: 'GET', path: `/auth/${referenceNumber}`, bearerToken })).data,
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
      `KSeF refused authentication ${referenceNumber} (${status.code} ${status.description})${details} Check ${method.credentialLabel} and the context identifier.`,
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
