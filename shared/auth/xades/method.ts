import type { CertificateCredentials, Clock, ContextIdentifier } from '../../types';
import { KsefAuthError, KsefError, KsefInputError } from '../../http/errors';
import { sha256Hex } from '../../protocol/crypto/hashes';
import { KeyMaterialError, loadKeyMaterial, type KeyMaterial, type KeyMaterialSource } from '../../protocol/x509/keyMaterial';
import { SUBJECT_OIDS, subjectValue } from '../../protocol/x509/x509';
import type { AuthenticationMethod, AuthenticationMethodContext, AuthenticationOperation } from '../method';
import {
  AUTH_TOKEN_REQUEST_NAMESPACES,
  SUBJECT_IDENTIFIER_TYPES,
  isIpv4Address,
  validateAllowedIps,
  type AllowedIps,
  type AuthTokenRequestSchemaVersion,
  type SubjectIdentifierType,
} from '../../protocol/xml/xades/authTokenRequest';
import { signAuthTokenRequest } from '../../protocol/xml/xades/sign';

const FIELD = 'credentials';

/** Refusals of `POST /auth/xades-signature` that are about the credentials (open-api.json, CIRFMF/ksef-docs), with the field to fix. */
const CREDENTIAL_REFUSALS: Record<number, { field: string; fix: string }> = {
  9105: {
    field: `${FIELD}.certificate`,
    fix: 'The signature did not verify: check that the certificate and key belong together and the key is RSA or EC.',
  },
  21115: {
    field: `${FIELD}.certificate`,
    fix: 'KSeF does not accept this certificate: use a qualified certificate, a KSeF certificate, or (on TEST) a test certificate.',
  },
  21117: {
    field: `${FIELD}.contextIdentifier`,
    fix: 'The certificate cannot act in a context of this type: check the context identifier.',
  },
  21406: {
    field: `${FIELD}.subjectIdentifierType`,
    fix: "The certificate names no NIP or PESEL KSeF can read: set the subject identifier type to 'certificateFingerprint' (the fingerprint needs permissions in the context).",
  },
};

/** What a certificate authentication needs besides the context, checked and loaded before anything is sent. */
export interface CertificateAuthenticationSettings {
  keyMaterial: KeyMaterial;
  subjectIdentifierType: SubjectIdentifierType;
  schemaVersion: AuthTokenRequestSchemaVersion;
  allowedIps?: AllowedIps;
  allowChallengeClientIp: boolean;
}

/**
 * Checks certificate credentials and loads the key and certificate, so a wrong password, a mismatched key,
 * a weak key or an expired certificate fails with a `KsefInputError` naming the field before any request.
 */
export function prepareCertificateAuthentication(credentials: CertificateCredentials, clock: Clock): CertificateAuthenticationSettings {
  const subjectIdentifierType = credentials.subjectIdentifierType ?? 'certificateSubject';
  if (!SUBJECT_IDENTIFIER_TYPES.includes(subjectIdentifierType)) {
    throw new KsefInputError(`The subject identifier type must be ${SUBJECT_IDENTIFIER_TYPES.join(' or ')}.`, {
      field: `${FIELD}.subjectIdentifierType`,
    });
  }
  const schemaVersion = credentials.authTokenRequestSchema ?? '2.0';
  if (!(schemaVersion in AUTH_TOKEN_REQUEST_NAMESPACES)) {
    throw new KsefInputError(`The authentication request schema must be ${Object.keys(AUTH_TOKEN_REQUEST_NAMESPACES).join(' or ')}.`, {
      field: `${FIELD}.authTokenRequestSchema`,
    });
  }
  const policy = credentials.authorizationPolicy;
  if (policy !== undefined && (typeof policy !== 'object' || policy === null)) {
    throw new KsefInputError('The authorization policy must be an object: { allowedIps?, allowChallengeClientIp? }.', {
      field: `${FIELD}.authorizationPolicy`,
    });
  }
  const allowChallengeClientIp = policy?.allowChallengeClientIp ?? false;
  if (typeof allowChallengeClientIp !== 'boolean') {
    throw new KsefInputError('Whether to allow the current IP (allowChallengeClientIp) must be true or false.', {
      field: `${FIELD}.authorizationPolicy.allowChallengeClientIp`,
    });
  }
  if (policy?.allowedIps) {
    // The challenge's client IP is known only after a request; the room for it is not.
    const reserved = allowChallengeClientIp
      ? {
          reservedIp4Addresses: {
            count: 1,
            reason: 'when the current IP is also allowed, which adds the client IP KSeF reports with the challenge',
          },
        }
      : {};
    validateAllowedIps({ allowedIps: policy.allowedIps }, `${FIELD}.authorizationPolicy`, { ...reserved, label: 'Allowed IP addresses' });
  }
  return {
    keyMaterial: loadKeyMaterial(keyMaterialSource(credentials.certificate), { clock, field: `${FIELD}.certificate` }),
    subjectIdentifierType,
    schemaVersion,
    allowedIps: policy?.allowedIps,
    allowChallengeClientIp,
  };
}

function keyMaterialSource(certificate: CertificateCredentials['certificate']): KeyMaterialSource {
  const field = `${FIELD}.certificate`;
  if (!certificate || typeof certificate !== 'object') {
    throw new KsefInputError('The certificate is required: a PKCS#12 file with its password, or the certificate and private key in PEM.', {
      field,
    });
  }
  const hasPkcs12 = certificate.pkcs12 !== undefined && certificate.pkcs12 !== '';
  const hasPem = certificate.certificatePem !== undefined || certificate.privateKeyPem !== undefined;
  if (hasPkcs12 === hasPem) {
    throw new KsefInputError(
      `The certificate needs either a PKCS#12 file (with its password) or the certificate and private key in PEM (with the passphrase if the key is encrypted), not ${hasPkcs12 ? 'both' : 'neither'}.`,
      { field },
    );
  }
  if (hasPkcs12) return { pkcs12: certificate.pkcs12!, password: certificate.password as string };
  if (!certificate.certificatePem)
    throw new KsefInputError('The certificate (PEM) is required with the private key (PEM).', { field: `${field}.certificatePem` });
  if (!certificate.privateKeyPem)
    throw new KsefInputError('The private key (PEM) is required with the certificate (PEM).', { field: `${field}.privateKeyPem` });
  return { certificatePem: certificate.certificatePem, privateKeyPem: certificate.privateKeyPem, passphrase: certificate.passphrase };
}

/**
 * Certificate authentication (uwierzytelnianie.md, auth/podpis-xades.md, CIRFMF/ksef-docs): a fresh challenge, the AuthTokenRequest built and signed
 * (enveloped XAdES-BES), sent as XML to `POST /auth/xades-signature`.
 */
export class XadesAuthentication implements AuthenticationMethod {
  readonly fingerprint: string;
  readonly credentialField = `${FIELD}.certificate`;
  readonly credentialLabel = 'the certificate';
  /** Private so the key is invisible to JSON, `console.log` and `util.inspect`. */
  readonly #settings: CertificateAuthenticationSettings;

  constructor(
    readonly contextIdentifier: ContextIdentifier,
    settings: CertificateAuthenticationSettings,
    private readonly clock: Clock,
  ) {
    this.#settings = settings;
    const { keyMaterial, subjectIdentifierType, allowedIps, allowChallengeClientIp } = settings;
    // Tokens differ by identity and by IP policy; the certificate fingerprint is public, the hash keeps the key short.
    const policy =
      allowedIps || allowChallengeClientIp
        ? `|policy-${sha256Hex(JSON.stringify({ allowedIps, allowChallengeClientIp })).slice(0, 16)}`
        : '';
    this.fingerprint = `certificate-${keyMaterial.certificate.fingerprintSha256}|${subjectIdentifierType}${policy}`;
  }

  /** The signer as KSeF will see it, for messages: the certificate's common name. */
  get certificateName(): string {
    const { certificate } = this.#settings.keyMaterial;
    return subjectValue(certificate, SUBJECT_OIDS.commonName) ?? certificate.fingerprintSha256;
  }

  async start({ request, newChallenge }: AuthenticationMethodContext): Promise<AuthenticationOperation> {
    const { keyMaterial, subjectIdentifierType, schemaVersion } = this.#settings;
    this.checkStillValid();
    const challenge = await newChallenge();
    const allowedIps = this.allowedIpsFor(challenge.clientIp);
    const signedXml = signAuthTokenRequest(
      {
        challenge: challenge.challenge,
        contextIdentifier: this.contextIdentifier,
        subjectIdentifierType,
        ...(allowedIps && { authorizationPolicy: { allowedIps } }),
      },
      keyMaterial,
      { clock: this.clock, schemaVersion },
    );
    try {
      const response = await request<AuthenticationOperation>({
        method: 'POST',
        path: '/auth/xades-signature',
        body: { content: signedXml, contentType: 'application/xml' },
      });
      return response.data;
    } catch (error) {
      throw asCredentialError(error);
    }
  }

  /** A long-lived client may outlive its certificate: check again before every signature. */
  private checkStillValid(): void {
    const { notAfter } = this.#settings.keyMaterial.certificate;
    if (this.clock.now() > notAfter) {
      throw new KeyMaterialError(
        'expired',
        `The certificate "${this.certificateName}" expired on ${notAfter.toISOString()}: renew it or use another certificate.`,
        this.credentialField,
      );
    }
  }

  /**
   * The policy to sign, seeded with the challenge's client IP when asked. AuthTokenRequest takes IPv4 addresses
   * only, so a client KSeF sees over IPv6 cannot be seeded: leaving it out would sign a policy without the one
   * address the caller asked for (or no policy at all), so that is an error, not a warning.
   */
  private allowedIpsFor(clientIp: string | undefined): AllowedIps | undefined {
    const { allowedIps, allowChallengeClientIp } = this.#settings;
    if (!allowChallengeClientIp) return allowedIps;
    if (!clientIp || !isIpv4Address(clientIp)) {
      const seen = clientIp
        ? `saw this client at ${clientIp}, which is not an IPv4 address`
        : 'reported no client address with the challenge';
      throw new KsefInputError(
        `Allowing the current IP (allowChallengeClientIp) is on, but KSeF ${seen}; the AuthTokenRequest policy takes IPv4 addresses only. ` +
          'Connect to KSeF over IPv4, or turn allowing the current IP off and list the allowed IP addresses.',
        { field: `${FIELD}.authorizationPolicy.allowChallengeClientIp` },
      );
    }
    const addresses = allowedIps?.ip4Addresses ?? [];
    return { ...allowedIps, ip4Addresses: addresses.includes(clientIp) ? addresses : [...addresses, clientIp] };
  }
}

/** A refusal of the credentials as a `KsefAuthError` naming the field to fix; other errors unchanged. */
function asCredentialError(error: unknown): unknown {
  if (!(error instanceof KsefError) || error instanceof KsefAuthError) return error;
  const refusal = error.exceptions.map((e) => CREDENTIAL_REFUSALS[e.code]).find(Boolean);
  if (!refusal) return error;
  return new KsefAuthError(`${refusal.fix} ${error.message}`, {
    status: error.status,
    exceptions: error.exceptions,
    traceId: error.traceId,
    field: refusal.field,
    cause: error,
  });
}
