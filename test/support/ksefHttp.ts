/**
 * A deliberately thin KSeF HTTP client for tests that exercise the wire protocol itself (the engine has the
 * real client): raw requests with node fetch, plus the protocol steps spelled out.
 */
import { X509Certificate } from 'node:crypto';
import { aesEncrypt, newSymmetricKey, type SymmetricKey } from '../../shared/protocol/crypto/aes';
import { sha256Base64 } from '../../shared/protocol/crypto/hashes';
import type { PublicKeyCertificate } from '../../shared/security/publicKeys';
import type { PublicKeyUsage } from '../../shared/protocol/types';
import { rsaOaepEncrypt } from '../../shared/protocol/crypto/rsa';
import type { ContextIdentifier } from '../../shared/types';

export interface HttpAnswer {
  status: number;
  headers: Headers;
  text: string;
  /** Parsed body when it is JSON. */
  json: any;
}

export interface RequestOptions {
  body?: unknown;
  bearer?: string;
  headers?: Record<string, string>;
}

/** The first entry of a KSeF exception answer (`exception.exceptionDetailList[0]`). */
export function exceptionOf(answer: { json: any }): { exceptionCode: number; exceptionDescription: string; details?: string[] } {
  return answer.json.exception.exceptionDetailList[0];
}

/** Changes to a `POST /auth/ksef-token` request, for tests of what the sandbox makes of them. */
export interface TokenAuthenticationTweak {
  timestampMs?: number;
  publicKeyId?: string;
  challenge?: string;
  /** Sent as `authorizationPolicy` as it is (also invalid shapes). */
  authorizationPolicy?: unknown;
}

export class KsefHttp {
  constructor(readonly baseUrl: string) {}

  async request(method: string, path: string, options: RequestOptions = {}): Promise<HttpAnswer> {
    const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
    if (options.bearer) headers.authorization = `Bearer ${options.bearer}`;
    let body: string | undefined;
    if (options.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
    }
    const url = /^https?:/.test(path) ? path : `${this.baseUrl}${path}`;
    const response = await fetch(url, { method, headers, body });
    const text = await response.text();
    const contentType = response.headers.get('content-type') ?? '';
    return {
      status: response.status,
      headers: response.headers,
      text,
      json: /json/.test(contentType) && text ? JSON.parse(text) : undefined,
    };
  }

  async publicKey(usage: PublicKeyUsage): Promise<PublicKeyCertificate> {
    const answer = await this.request('GET', '/security/public-key-certificates');
    const found = (answer.json as PublicKeyCertificate[]).find((c) => c.usage.includes(usage));
    if (!found) throw new Error(`no ${usage} certificate published`);
    return found;
  }

  /** Challenge + `POST /auth/ksef-token`; returns the 202 answer and the challenge used. */
  async startTokenAuthentication(
    ksefToken: string,
    contextIdentifier: ContextIdentifier,
    tweak: TokenAuthenticationTweak = {},
  ): Promise<{ answer: HttpAnswer; challenge: string }> {
    const challengeAnswer = await this.request('POST', '/auth/challenge');
    const challenge = tweak.challenge ?? (challengeAnswer.json.challenge as string);
    const key = await this.publicKey('KsefTokenEncryption');
    const timestampMs = tweak.timestampMs ?? (challengeAnswer.json.timestampMs as number);
    const answer = await this.request('POST', '/auth/ksef-token', {
      body: {
        challenge,
        contextIdentifier,
        encryptedToken: encryptWithCertificate(key.certificate, Buffer.from(`${ksefToken}|${timestampMs}`, 'utf8')),
        publicKeyId: tweak.publicKeyId ?? key.publicKeyId,
        ...(tweak.authorizationPolicy !== undefined && { authorizationPolicy: tweak.authorizationPolicy }),
      },
    });
    return { answer, challenge };
  }

  /** Polls `GET /auth/{ref}` until the status is final; returns that status. */
  async authenticationResult(
    referenceNumber: string,
    authenticationToken: string,
  ): Promise<{ code: number; description: string; details?: string[] }> {
    return pollUntil(
      async () => (await this.request('GET', `/auth/${referenceNumber}`, { bearer: authenticationToken })).json.status,
      (status) => status.code !== 100,
    );
  }

  /** The whole KSeF-token flow: access and refresh tokens. */
  async authenticate(
    ksefToken: string,
    contextIdentifier: ContextIdentifier,
    tweak: TokenAuthenticationTweak = {},
  ): Promise<{ accessToken: string; refreshToken: string; referenceNumber: string }> {
    const { answer } = await this.startTokenAuthentication(ksefToken, contextIdentifier, tweak);
    const { referenceNumber, authenticationToken } = answer.json;
    const status = await this.authenticationResult(referenceNumber, authenticationToken.token);
    if (status.code !== 200) throw new Error(`authentication ended with ${JSON.stringify(status)}`);
    const redeemed = await this.request('POST', '/auth/token/redeem', { bearer: authenticationToken.token });
    return { accessToken: redeemed.json.accessToken.token, refreshToken: redeemed.json.refreshToken.token, referenceNumber };
  }

  async openOnlineSession(
    accessToken: string,
    key: SymmetricKey = newSymmetricKey(),
  ): Promise<{ referenceNumber: string; key: SymmetricKey; answer: HttpAnswer }> {
    const certificate = await this.publicKey('SymmetricKeyEncryption');
    const answer = await this.request('POST', '/sessions/online', {
      bearer: accessToken,
      body: {
        formCode: { systemCode: 'FA (3)', schemaVersion: '1-0E', value: 'FA' },
        encryption: {
          encryptedSymmetricKey: encryptWithCertificate(certificate.certificate, key.key),
          initializationVector: key.iv.toString('base64'),
          publicKeyId: certificate.publicKeyId,
        },
      },
    });
    return { referenceNumber: answer.json?.referenceNumber, key, answer };
  }

  sendInvoice(accessToken: string, sessionReferenceNumber: string, body: Record<string, unknown>): Promise<HttpAnswer> {
    return this.request('POST', `/sessions/online/${sessionReferenceNumber}/invoices`, { bearer: accessToken, body });
  }

  /** Polls an invoice's status until processing is over. */
  async invoiceResult(accessToken: string, sessionReferenceNumber: string, invoiceReferenceNumber: string): Promise<any> {
    return pollUntil(
      async () =>
        (await this.request('GET', `/sessions/${sessionReferenceNumber}/invoices/${invoiceReferenceNumber}`, { bearer: accessToken })).json,
      (invoice) => invoice.status.code !== 100 && invoice.status.code !== 150,
    );
  }

  /** Polls a session's status until it is neither open nor closed-awaiting-processing. */
  async sessionResult(accessToken: string, sessionReferenceNumber: string): Promise<any> {
    return pollUntil(
      async () => (await this.request('GET', `/sessions/${sessionReferenceNumber}`, { bearer: accessToken })).json,
      (session) => session.status.code !== 100 && session.status.code !== 170,
    );
  }
}

export function encryptWithCertificate(certificateBase64: string, data: Buffer): string {
  const publicKey = new X509Certificate(Buffer.from(certificateBase64, 'base64')).publicKey;
  return rsaOaepEncrypt(publicKey, data).toString('base64');
}

/** The `SendInvoiceRequest` body for `xml` encrypted with the session key. */
export function sendInvoiceBody(xml: string | Buffer, key: SymmetricKey): Record<string, unknown> {
  const plain = Buffer.isBuffer(xml) ? xml : Buffer.from(xml, 'utf8');
  const encrypted = aesEncrypt(plain, key);
  return {
    invoiceHash: sha256Base64(plain),
    invoiceSize: plain.length,
    encryptedInvoiceHash: sha256Base64(encrypted),
    encryptedInvoiceSize: encrypted.length,
    encryptedInvoiceContent: encrypted.toString('base64'),
    offlineMode: false,
  };
}

/** Re-reads `read()` until `done` holds (asynchronous processing); fails after `attempts` reads. */
export async function pollUntil<T>(read: () => Promise<T>, done: (value: T) => boolean, attempts = 200): Promise<T> {
  let last: T | undefined;
  for (let i = 0; i < attempts; i++) {
    last = await read();
    if (done(last)) return last;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`still not done after ${attempts} reads; last: ${JSON.stringify(last)}`);
}

/** A clock tests move by hand. */
export class ManualClock {
  constructor(private current: Date = new Date()) {}
  now(): Date {
    return new Date(this.current.getTime());
  }
  advance(ms: number): void {
    this.current = new Date(this.current.getTime() + ms);
  }
}

/**
 * Rate limits high enough that tests polling every few milliseconds never meet them — for suites that are
 * not about rate limiting (the defaults are KSeF's production limits, which such polling would exceed).
 */
export const RELAXED_RATE_LIMITS = Object.fromEntries(
  (
    [
      'onlineSession',
      'onlineSessionClose',
      'invoiceSend',
      'invoiceStatus',
      'sessionList',
      'sessionInvoiceList',
      'sessionMisc',
      'invoiceDownload',
      'other',
    ] as const
  ).map((group) => [group, { perSecond: 10_000, perMinute: 100_000, perHour: 1_000_000 }]),
);
