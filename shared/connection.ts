import type {
  AllowedIps,
  AuthTokenRequestSchemaVersion,
  CertificateAuthorizationPolicy,
  ContextIdentifierType,
  EnvironmentName,
  EnvironmentProvider,
  KsefClientOptions,
  KsefCredentials,
  Logger,
  SubjectIdentifierType,
} from './types';

/**
 * A KSeF connection as the hosts' forms hold it: flat text fields (an n8n credential, a Node-RED config node).
 * Empty strings count as not given.
 */
export interface ConnectionSettings {
  environment?: EnvironmentName | '';
  baseUrl?: string;
  contextIdentifierType?: ContextIdentifierType | '';
  contextIdentifierValue?: string;
  authenticationMethod?: KsefCredentials['method'] | '';
  ksefToken?: string;
  /** How the certificate is given: a PKCS#12 file as Base64 (default) or PEM text. */
  certificateFormat?: 'pkcs12' | 'pem' | '';
  pkcs12?: string;
  pkcs12Password?: string;
  certificatePem?: string;
  privateKeyPem?: string;
  privateKeyPassphrase?: string;
  subjectIdentifierType?: SubjectIdentifierType | '';
  /** AuthTokenRequest schema of the certificate method (default 2.0). */
  authTokenRequestSchema?: AuthTokenRequestSchemaVersion | '';
  /**
   * The IPv4 addresses allowed to use the tokens of a certificate authentication, separated by commas, spaces or
   * lines: addresses (`203.0.113.7`), ranges (`203.0.113.1-203.0.113.99`) and masks (`203.0.113.0/24`).
   */
  allowedIps?: string;
  /** Also allow the address KSeF sees this machine at (the challenge's `clientIp`). */
  allowCurrentIp?: boolean;
}

/** What the host adds to its form: the embedded sandbox it offers (the engine never loads it itself) and its log. */
export interface ConnectionHost {
  sandbox: EnvironmentProvider;
  logger?: Logger;
}

/**
 * Client options for a connection form, with the same defaults in every host: the sandbox environment (the one
 * the host hands in), a NIP context and the KSeF-token method. Passwords are taken as typed (spaces may belong to
 * them); the rest is trimmed. Validation is `createKsefClient`'s; its errors carry the engine field in `field`.
 */
export function clientOptionsFromSettings(settings: ConnectionSettings, host: ConnectionHost): KsefClientOptions {
  const text = (value: string | undefined) => value?.trim() || undefined;
  const name = settings.environment || 'sandbox';
  const environment = name === 'sandbox' ? host.sandbox : name;
  const contextValue = text(settings.contextIdentifierValue);
  const contextIdentifier = contextValue
    ? { contextIdentifier: { type: settings.contextIdentifierType || 'Nip', value: contextValue } }
    : {};
  const ksefToken = text(settings.ksefToken);
  const credentials: KsefCredentials =
    settings.authenticationMethod === 'certificate'
      ? {
          method: 'certificate',
          ...contextIdentifier,
          certificate:
            settings.certificateFormat === 'pem'
              ? {
                  certificatePem: text(settings.certificatePem),
                  privateKeyPem: text(settings.privateKeyPem),
                  passphrase: settings.privateKeyPassphrase || undefined,
                }
              : { pkcs12: text(settings.pkcs12), password: settings.pkcs12Password ?? '' },
          subjectIdentifierType: settings.subjectIdentifierType || 'certificateSubject',
          ...(settings.authTokenRequestSchema && { authTokenRequestSchema: settings.authTokenRequestSchema }),
          ...authorizationPolicyOf(settings),
        }
      : { method: 'ksefToken', ...contextIdentifier, ...(ksefToken && { ksefToken }) };
  return {
    environment,
    ...(environment === 'custom' && { baseUrl: text(settings.baseUrl) }),
    credentials,
    ...(host.logger && { logger: host.logger }),
  };
}

/** The policy part of the form: nothing when no address is listed and the current IP is not to be allowed. */
function authorizationPolicyOf(settings: ConnectionSettings): { authorizationPolicy?: CertificateAuthorizationPolicy } {
  const entries = (settings.allowedIps ?? '').split(/[\s,;]+/).filter((entry) => entry !== '');
  if (entries.length === 0 && !settings.allowCurrentIp) return {};
  const allowedIps: AllowedIps = {};
  const add = (kind: keyof AllowedIps, entry: string) => (allowedIps[kind] ??= []).push(entry);
  // The engine checks each entry's syntax and count; here they are only sorted by their shape.
  for (const entry of entries) add(entry.includes('-') ? 'ip4Ranges' : entry.includes('/') ? 'ip4Masks' : 'ip4Addresses', entry);
  return {
    authorizationPolicy: {
      ...(entries.length > 0 && { allowedIps }),
      ...(settings.allowCurrentIp && { allowChallengeClientIp: true }),
    },
  };
}
