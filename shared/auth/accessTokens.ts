import type { TokenInfo } from '../protocol/types';
import type { AuthTokens, TokenStore } from './types';
import { KsefError } from '../http/errors';
import { runAuthentication, type AuthenticationDeps } from './authenticate';
import type { AuthenticationMethod } from './method';
import { tokenCacheKey } from './tokenStore';

/** Refresh this long before the access token expires, so a request never leaves with a token about to lapse. */
const EXPIRY_MARGIN_MS = 60_000;

/**
 * Hands out a usable access token: from the store, refreshed with the refresh token shortly before it
 * expires, or from a new authentication. Concurrent callers share one authentication.
 */
export class TokenProvider {
  readonly cacheKey: string;
  private pending?: Promise<AuthTokens>;

  constructor(
    private readonly method: AuthenticationMethod,
    private readonly store: TokenStore,
    private readonly deps: AuthenticationDeps & { baseUrl: string },
  ) {
    this.cacheKey = tokenCacheKey(deps.baseUrl, method.contextIdentifier, method.fingerprint);
  }

  async accessToken(): Promise<string> {
    return (await this.tokens()).accessToken.token;
  }

  /** Valid tokens, authenticating or refreshing as needed; `force` authenticates anew. */
  tokens(force = false): Promise<AuthTokens> {
    this.pending ??= this.obtain(force).finally(() => (this.pending = undefined));
    return this.pending;
  }

  /** After KSeF refused `rejectedToken` (401): forget it and authenticate anew, once for all waiting callers. */
  async renewAfterRejection(rejectedToken: string): Promise<string> {
    const current = await this.store.get(this.cacheKey);
    if (current && current.accessToken.token !== rejectedToken && this.isFresh(current.accessToken)) {
      return current.accessToken.token;
    }
    await this.store.delete(this.cacheKey);
    return (await this.tokens(true)).accessToken.token;
  }

  private async obtain(force: boolean): Promise<AuthTokens> {
    const cached = force ? undefined : await this.store.get(this.cacheKey);
    if (cached && this.isFresh(cached.accessToken)) return cached;
    if (cached && this.isFresh(cached.refreshToken)) {
      const refreshed = await this.refresh(cached);
      if (refreshed) return refreshed;
    }
    const tokens = await runAuthentication(this.method, this.deps);
    await this.store.set(this.cacheKey, tokens);
    return tokens;
  }

  /** `POST /auth/token/refresh`; undefined when KSeF no longer accepts the refresh token (then authenticate anew). */
  private async refresh(cached: AuthTokens): Promise<AuthTokens | undefined> {
    try {
      const response = await this.deps.request<{ accessToken: TokenInfo }>({
        method: 'POST',
        path: '/auth/token/refresh',
        bearerToken: cached.refreshToken.token,
        // Refreshing twice only yields two access tokens.
        idempotent: true,
      });
      const tokens: AuthTokens = { ...cached, accessToken: response.data.accessToken };
      await this.store.set(this.cacheKey, tokens);
      this.deps.logger?.info('KSeF access token refreshed', { accessTokenValidUntil: tokens.accessToken.validUntil });
      return tokens;
    } catch (error) {
      if (!(error instanceof KsefError) || error.status === undefined || error.status >= 500) throw error;
      this.deps.logger?.info('KSeF refused the refresh token; authenticating again', { status: error.status });
      await this.store.delete(this.cacheKey);
      return undefined;
    }
  }

  private isFresh(token: TokenInfo): boolean {
    return Date.parse(token.validUntil) - this.deps.clock.now().getTime() > EXPIRY_MARGIN_MS;
  }
}
