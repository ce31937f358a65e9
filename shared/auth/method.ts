import type { ContextIdentifier, TokenInfo } from '../protocol/types';
import type { PublicKeys } from '../security/publicKeys';
import type { RequestFunction } from '../http/transport';

/** `POST /auth/challenge` response (open-api.json, CIRFMF/ksef-docs). */
export interface AuthChallenge {
  challenge: string;
  timestamp: string;
  timestampMs: number;
  /** The caller's IP address as KSeF saw it; can seed an authorization policy. */
  clientIp?: string;
}

/** A started authentication operation (`202` of `/auth/ksef-token` or `/auth/xades-signature`). */
export interface AuthenticationOperation {
  referenceNumber: string;
  authenticationToken: TokenInfo;
}

export interface AuthenticationMethodContext {
  /** Unauthenticated requests to the KSeF API. */
  request: RequestFunction;
  publicKeys: PublicKeys;
  /** A fresh challenge; a method asks for a new one on every attempt. */
  newChallenge(): Promise<AuthChallenge>;
}

/**
 * One way to prove identity to KSeF. It only starts the authentication operation; polling its status,
 * redeeming, caching and refreshing the tokens are the same for every method. A KSeF token is the first;
 * a XAdES-signed AuthTokenRequest (certificate) is another implementation of this interface.
 */
export interface AuthenticationMethod {
  readonly contextIdentifier: ContextIdentifier;
  /** Non-secret identity of the credential (SHA-256 fingerprint), part of the token cache key. */
  readonly fingerprint: string;
  /** The input field to blame when KSeF refuses the credential, e.g. `credentials.ksefToken` (for `field`). */
  readonly credentialField: string;
  /** The credential as a person names it, for messages: 'the KSeF token', 'the certificate'. */
  readonly credentialLabel: string;
  start(context: AuthenticationMethodContext): Promise<AuthenticationOperation>;
}
