import type { ContextIdentifier } from '../protocol/types';
import { rsaOaepEncrypt } from '../protocol/crypto/rsa';
import { sha256Hex } from '../protocol/crypto/hashes';
import type { AuthenticationMethod, AuthenticationMethodContext, AuthenticationOperation } from './method';

/** KSeF-token authentication: `POST /auth/ksef-token` with RSA-OAEP(`token|timestampMs`) (uwierzytelnianie.md, CIRFMF/ksef-docs). */
export class KsefTokenAuthentication implements AuthenticationMethod {
  readonly fingerprint: string;
  readonly credentialField = 'credentials.ksefToken';
  readonly credentialLabel = 'the KSeF token';
  /** A true private field: invisible to JSON, `console.log` and `util.inspect`. */
  readonly #ksefToken: string;

  constructor(
    readonly contextIdentifier: ContextIdentifier,
    ksefToken: string,
  ) {
    this.#ksefToken = ksefToken;
    this.fingerprint = sha256Hex(`ksef-token:${ksefToken}`);
  }

  start({ request, publicKeys, newChallenge }: AuthenticationMethodContext): Promise<AuthenticationOperation> {
    return publicKeys.withKey('KsefTokenEncryption', async (key) => {
      const challenge = await newChallenge();
      const encryptedToken = rsaOaepEncrypt(key.key, Buffer.from(`${this.#ksefToken}|${challenge.timestampMs}`, 'utf8'));
      const response = await request<AuthenticationOperation>({
        method: 'POST',
        path: '/auth/ksef-token',
        json: {
          challenge: challenge.challenge,
          contextIdentifier: this.contextIdentifier,
          encryptedToken: encryptedToken.toString('base64'),
          publicKeyId: key.publicKeyId,
        },
      });
      return response.data;
    });
  }
}
