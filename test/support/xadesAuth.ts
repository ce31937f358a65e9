/**
 * XAdES authentication against the sandbox for tests: signers (generated test certificates or any key and
 * certificate) and the protocol steps — challenge, signed AuthTokenRequest, status, redeem.
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import type { AuthorizationPolicy, AuthTokenRequest, SubjectIdentifierType } from '../../shared/protocol/xml/xades/authTokenRequest';
import { signAuthTokenRequest } from '../../shared/protocol/xml/xades/sign';
import { generateTestCertificate, type TestCertificateSubject } from '../../shared/protocol/x509/testCertificates';
import { parseCertificate, type CertificateInfo } from '../../shared/protocol/x509/x509';
import type { Clock, ContextIdentifier } from '../../shared/types';
import type { HttpAnswer, KsefHttp } from './ksefHttp';

export interface Signer {
  privateKey: KeyObject;
  certificate: CertificateInfo;
}

/** A self-signed certificate shaped like the official clients' test certificates. */
export function testSigner(
  subject: TestCertificateSubject,
  options: { keyType?: 'rsa' | 'ec'; validityDays?: number; clock?: Clock } = {},
): Signer {
  const generated = generateTestCertificate({ subject, pkcs12Password: 'test-only', ...options, keyType: options.keyType ?? 'ec' });
  return { privateKey: createPrivateKey(generated.privateKeyPem), certificate: parseCertificate(generated.certificatePem) };
}

export function signerOf(certificateDer: Buffer, privateKey: KeyObject): Signer {
  return { privateKey, certificate: parseCertificate(certificateDer) };
}

export interface XadesStartOptions {
  subjectIdentifierType?: SubjectIdentifierType;
  /** Query string, e.g. `?verifyCertificateChain=true`. */
  query?: string;
  contentType?: string;
  /** Reuse a challenge instead of asking for a new one. */
  challenge?: string;
  /** The `AuthorizationPolicy` of the signed document. */
  authorizationPolicy?: AuthorizationPolicy;
  /** Changes the signed document before it is sent (tampering tests). */
  alter?: (xml: string) => string;
  clock?: Clock;
}

/** Challenge + `POST /auth/xades-signature` with a signed AuthTokenRequest; returns the answer and the challenge used. */
export async function startXadesAuthentication(
  http: KsefHttp,
  signer: Signer,
  contextIdentifier: ContextIdentifier,
  options: XadesStartOptions = {},
): Promise<{ answer: HttpAnswer; challenge: string }> {
  const challenge = options.challenge ?? (await http.request('POST', '/auth/challenge')).json.challenge;
  const request: AuthTokenRequest = {
    challenge,
    contextIdentifier,
    subjectIdentifierType: options.subjectIdentifierType ?? 'certificateSubject',
    ...(options.authorizationPolicy && { authorizationPolicy: options.authorizationPolicy }),
  };
  const signed = signAuthTokenRequest(request, signer, { clock: options.clock });
  const answer = await postXml(
    http,
    `/auth/xades-signature${options.query ?? ''}`,
    options.alter ? options.alter(signed) : signed,
    options.contentType,
  );
  return { answer, challenge };
}

export async function postXml(http: KsefHttp, path: string, xml: string, contentType = 'application/xml'): Promise<HttpAnswer> {
  const response = await fetch(`${http.baseUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': contentType, accept: 'application/json' },
    body: xml,
  });
  const text = await response.text();
  const type = response.headers.get('content-type') ?? '';
  return { status: response.status, headers: response.headers, text, json: /json/.test(type) && text ? JSON.parse(text) : undefined };
}

export interface XadesSession {
  referenceNumber: string;
  authenticationToken: string;
  accessToken: string;
  refreshToken: string;
}

/** The whole XAdES flow up to redeemed tokens; fails the test unless authentication ends with 200. */
export async function xadesAuthenticate(
  http: KsefHttp,
  signer: Signer,
  contextIdentifier: ContextIdentifier,
  options: XadesStartOptions = {},
): Promise<XadesSession> {
  const { answer } = await startXadesAuthentication(http, signer, contextIdentifier, options);
  if (answer.status !== 202) throw new Error(`POST /auth/xades-signature answered ${answer.status}: ${answer.text}`);
  const { referenceNumber, authenticationToken } = answer.json;
  const status = await http.authenticationResult(referenceNumber, authenticationToken.token);
  if (status.code !== 200) throw new Error(`authentication ended with ${JSON.stringify(status)}`);
  const redeemed = await http.request('POST', '/auth/token/redeem', { bearer: authenticationToken.token });
  return {
    referenceNumber,
    authenticationToken: authenticationToken.token,
    accessToken: redeemed.json.accessToken.token,
    refreshToken: redeemed.json.refreshToken.token,
  };
}

/** Starts a XAdES authentication and waits for its final status (for failures that surface asynchronously). */
export async function xadesAuthenticationStatus(
  http: KsefHttp,
  signer: Signer,
  contextIdentifier: ContextIdentifier,
  options: XadesStartOptions = {},
): Promise<{ code: number; description: string; details?: string[] }> {
  const { answer } = await startXadesAuthentication(http, signer, contextIdentifier, options);
  if (answer.status !== 202) throw new Error(`POST /auth/xades-signature answered ${answer.status}: ${answer.text}`);
  return http.authenticationResult(answer.json.referenceNumber, answer.json.authenticationToken.token);
}

export function decodeJwt(token: string): Record<string, any> {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));
}
