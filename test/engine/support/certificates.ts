import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import * as forge from 'node-forge';
import { generateTestCertificate, type CertificateCredentials, type GeneratedTestCertificate, type KsefClient } from '../../../shared';
import type { SandboxOptions } from '../../../sandbox';
import { startFaultProxy, type FaultProxy } from './faultProxy';
import { clientOf, startRecordedSandbox, type RecordedSandbox } from './sandbox';
import { RecordingLogger } from './time';

export const PKCS12_PASSWORD = 'Pkcs12-Pa55word!';
export const PEM_PASSPHRASE = 'Pem-Pa55phrase!';

/** The context's organisation seal (VATPL-<NIP>): the owner of the sandbox's demo context. */
export function sealOf(
  nip: string,
  keyType: 'rsa' | 'ec' = 'rsa',
  clock?: { now(): Date },
  validityDays?: number,
): GeneratedTestCertificate {
  return generateTestCertificate({
    subject: { kind: 'seal', organizationName: 'Demo Sp. z o.o.', nip },
    pkcs12Password: PKCS12_PASSWORD,
    keyType,
    clock,
    validityDays,
  });
}

/** A person with the context's NIP (TINPL-<NIP>): also recognised as the owner. */
export function personOf(nip: string, keyType: 'rsa' | 'ec' = 'ec'): GeneratedTestCertificate {
  return generateTestCertificate({
    subject: { kind: 'person', givenName: 'Anna', surname: 'Nowak', nip },
    pkcs12Password: PKCS12_PASSWORD,
    keyType,
  });
}

/** The certificate's private key as encrypted PKCS#8 PEM. */
export function encryptedKeyPem(certificate: GeneratedTestCertificate, passphrase = PEM_PASSPHRASE): string {
  return createPrivateKey(certificate.privateKeyPem).export({ format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase }).toString();
}

/** A self-signed RSA-1024 seal certificate (too weak for KSeF) as PEM. */
export function weakRsaSeal(nip: string): { certificatePem: string; privateKeyPem: string } {
  return selfSignedRsa(1024, [
    { type: '2.5.4.97', value: `VATPL-${nip}` },
    { name: 'organizationName', value: 'Weak Sp. z o.o.' },
    { name: 'commonName', value: 'Weak' },
    { name: 'countryName', value: 'PL' },
  ]);
}

/** A self-signed RSA-2048 certificate naming no NIP or PESEL: KSeF can identify it only by its fingerprint. */
export function anonymousCertificate(): { certificatePem: string; privateKeyPem: string } {
  return selfSignedRsa(2048, [
    { name: 'commonName', value: 'Integration robot' },
    { name: 'countryName', value: 'PL' },
  ]);
}

function selfSignedRsa(bits: number, name: forge.pki.CertificateField[]): { certificatePem: string; privateKeyPem: string } {
  const privateKeyPem = generateKeyPairSync('rsa', { modulusLength: bits }).privateKey.export({ format: 'pem', type: 'pkcs1' }).toString();
  const privateKey = forge.pki.privateKeyFromPem(privateKeyPem) as forge.pki.rsa.PrivateKey;
  const certificate = forge.pki.createCertificate();
  certificate.publicKey = forge.pki.setRsaPublicKey(privateKey.n, privateKey.e);
  certificate.serialNumber = '01';
  certificate.validity.notBefore = new Date(Date.now() - 3600_000);
  certificate.validity.notAfter = new Date(Date.now() + 30 * 24 * 3600_000);
  certificate.setSubject(name);
  certificate.setIssuer(name);
  certificate.sign(privateKey, forge.md.sha256.create());
  return { certificatePem: forge.pki.certificateToPem(certificate), privateKeyPem };
}

export function pkcs12Credentials(
  sandbox: RecordedSandbox,
  certificate: GeneratedTestCertificate,
  extra: Partial<CertificateCredentials> = {},
): CertificateCredentials {
  return {
    method: 'certificate',
    contextIdentifier: sandbox.contextIdentifier,
    certificate: { pkcs12: certificate.pkcs12, password: PKCS12_PASSWORD },
    ...extra,
  };
}

/** A client of the sandbox that authenticates with `credentials`. */
export function certificateClient(
  sandbox: RecordedSandbox,
  credentials: CertificateCredentials,
  overrides: Parameters<typeof clientOf>[1] = {},
): KsefClient {
  return clientOf(sandbox, { credentials, ...overrides });
}

/** Every request the sandbox answered so far (any operation, including unknown paths). */
export function exchangeCount(sandbox: RecordedSandbox): number {
  return sandbox.exchanges.length;
}

/** The demo context's owner (an EC seal) talking to a recorded sandbox through a fault proxy, with a recorded log. */
export interface OwnerBehindFaultProxy {
  sandbox: RecordedSandbox;
  proxy: FaultProxy;
  owner: KsefClient;
  logger: RecordingLogger;
  close(): Promise<void>;
}

export async function startOwnerBehindFaultProxy(options: SandboxOptions = {}): Promise<OwnerBehindFaultProxy> {
  const sandbox = await startRecordedSandbox(options);
  const proxy = await startFaultProxy(sandbox.baseUrl);
  const logger = new RecordingLogger();
  const owner = certificateClient(sandbox, pkcs12Credentials(sandbox, sealOf(sandbox.contextIdentifier.value, 'ec')), {
    baseUrl: proxy.baseUrl,
    logger,
  });
  return {
    sandbox,
    proxy,
    owner,
    logger,
    async close() {
      await owner.close();
      await proxy.close();
      await sandbox.close();
    },
  };
}
