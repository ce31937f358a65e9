import type {
  ContextIdentifierType,
  EnvironmentName,
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
}

/**
 * Client options for a connection form, with the same defaults in every host: the sandbox environment, a NIP
 * context and the KSeF-token method. Passwords are taken as typed (spaces may belong to them); the rest is
 * trimmed. Validation is `createKsefClient`'s, so its errors name the engine field (`credentials.ksefToken`, ...).
 */
export function clientOptionsFromSettings(settings: ConnectionSettings, logger?: Logger): KsefClientOptions {
  const text = (value: string | undefined) => value?.trim() || undefined;
  const environment = settings.environment || 'sandbox';
  const contextValue = text(settings.contextIdentifierValue);
  const contextIdentifier = contextValue ? { contextIdentifier: { type: settings.contextIdentifierType || 'Nip', value: contextValue } } : {};
  const ksefToken = text(settings.ksefToken);
  const credentials: KsefCredentials =
    settings.authenticationMethod === 'certificate'
      ? {
          method: 'certificate',
          ...contextIdentifier,
          certificate:
            settings.certificateFormat === 'pem'
              ? { certificatePem: text(settings.certificatePem), privateKeyPem: text(settings.privateKeyPem), passphrase: settings.privateKeyPassphrase || undefined }
              : { pkcs12: text(settings.pkcs12), password: settings.pkcs12Password ?? '' },
          subjectIdentifierType: settings.subjectIdentifierType || 'certificateSubject',
        }
      : { method: 'ksefToken', ...contextIdentifier, ...(ksefToken && { ksefToken }) };
  return {
    environment,
    ...(environment === 'custom' && { baseUrl: text(settings.baseUrl) }),
    credentials,
    ...(logger && { logger }),
  };
}
