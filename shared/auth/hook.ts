import { KsefAuthError } from '../http/errors';
import type { RequestFunction } from '../http/transport';
import type { TokenProvider } from './accessTokens';

/**
 * Wraps the transport so every API request carries a valid access token. On a 401 the token is renewed
 * once and the request repeated: KSeF refused it before doing anything, so repeating is safe.
 * Absolute storage URLs pass through without a token.
 */
export function withAuthentication(request: RequestFunction, tokens: TokenProvider): RequestFunction {
  return async <T>(options: Parameters<RequestFunction>[0]) => {
    if (/^https?:\/\//i.test(options.path)) return request<T>(options);
    const token = await tokens.accessToken();
    try {
      return await request<T>({ ...options, bearerToken: token });
    } catch (error) {
      if (!(error instanceof KsefAuthError) || error.status !== 401) throw error;
      const renewed = await tokens.renewAfterRejection(token);
      return request<T>({ ...options, bearerToken: renewed });
    }
  };
}
