import type { ContextIdentifier } from '../protocol/types';
import type { AuthTokens, TokenStore } from './types';

/** Keeps tokens in this process's memory. Tokens are secrets: this store never logs or exposes them. */
export class MemoryTokenStore implements TokenStore {
  private readonly tokens = new Map<string, AuthTokens>();

  get(key: string): AuthTokens | undefined {
    return this.tokens.get(key);
  }

  set(key: string, tokens: AuthTokens): void {
    this.tokens.set(key, tokens);
  }

  delete(key: string): void {
    this.tokens.delete(key);
  }
}

/**
 * The default store, shared by every client in the process, so a workflow that runs every minute reuses
 * its tokens instead of authenticating each time.
 */
export const processTokenStore: TokenStore = new MemoryTokenStore();

/** Environment, context and credential fingerprint: never the secret itself. */
export function tokenCacheKey(baseUrl: string, context: ContextIdentifier, credentialFingerprint: string): string {
  return `${baseUrl}|${context.type}:${context.value}|${credentialFingerprint}`;
}
