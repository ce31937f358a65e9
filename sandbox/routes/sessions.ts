/** Online sessions, their invoices and UPOs (sesja-interaktywna.md, CIRFMF/ksef-docs; open-api.json). */
import { sha256Base64 } from '../../shared/protocol/crypto/hashes';
import { rsaOaepDecrypt } from '../../shared/protocol/crypto/rsa';
import { schemaForFormCode } from '../../shared/protocol/model/formCodes';
import { newReferenceNumber } from '../../shared/protocol/model/referenceNumber';
import { keyFor, principalOf, type RouteDefinition, type SandboxContext, type SandboxRequest, type SandboxResponse } from '../context';
import { HOUR_MS, formatDateTime } from '../dates';
import { inputValidationError, ksefException } from '../errors';
import { INVOICE_PROCESSING_STATUS, SESSION_STATUS, enqueueInvoice, finalizeSession, isFinal } from '../sessionProcessing';
import type { RateLimitGroup } from '../rateLimits';
import { sameContext, type OnlineSession, type SessionInvoice } from '../state';
import { UPO_LINK_VALIDITY_MS, invoiceUpoBlobPath, sessionUpoBlobPath } from '../storage';
import { optionalBoolean, requireBase64, requireInteger, requireObject, requireString } from './input';
import { page } from './paging';

export const MAX_INVOICES_PER_SESSION = 10_000;
const ONLINE_SESSION_VALIDITY_MS = 12 * HOUR_MS;

const SEND_PERMISSIONS = ['InvoiceWrite', 'PefInvoiceWrite', 'EnforcementOperations'];
const READ_SESSION_PERMISSIONS = ['InvoiceWrite', 'Introspection', 'PefInvoiceWrite', 'EnforcementOperations'];

export function sessionRoutes(ctx: SandboxContext): RouteDefinition[] {
  const { state } = ctx;

  /** The caller's session; auto-closes it when its 12 hours are over (sesja-interaktywna.md). */
  function sessionOf(req: SandboxRequest, wording: 'znaleziona' | 'odnaleziona' = 'znaleziona'): OnlineSession {
    const referenceNumber = req.params.referenceNumber;
    const session = state.onlineSessions.get(referenceNumber);
    const context = principalOf(req).operation.contextIdentifier;
    if (!session || !sameContext(session.contextIdentifier, context)) {
      throw ksefException(21173, `Sesja o numerze referencyjnym ${referenceNumber} nie została ${wording}.`);
    }
    if (session.status.code === 100 && req.now > session.validUntil) closeSession(session);
    return session;
  }

  /** The caller's session, which must still be open for `action` (21180 otherwise). */
  function openSessionOf(req: SandboxRequest, action: string): OnlineSession {
    const session = sessionOf(req, 'odnaleziona');
    if (session.status.code !== 100) throw ksefException(21180, `Status sesji ${session.status.code} uniemożliwia ${action}.`);
    return session;
  }

  function closeSession(session: OnlineSession): void {
    session.status = SESSION_STATUS.closed;
    session.dateUpdated = ctx.clock.now();
    ctx.scheduler.after(ctx.processingDelayMs, () => finalizeSession(ctx, session));
  }

  function invoiceOf(req: SandboxRequest, session: OnlineSession): SessionInvoice {
    const invoiceReferenceNumber = req.params.invoiceReferenceNumber;
    const invoice = session.invoices.find((i) => i.referenceNumber === invoiceReferenceNumber);
    if (!invoice) {
      throw ksefException(21405, `Faktura o numerze referencyjnym ${invoiceReferenceNumber} nie została znaleziona w sesji ${session.referenceNumber}.`);
    }
    return invoice;
  }

  function invoiceBody(session: OnlineSession, invoice: SessionInvoice, now: Date): Record<string, unknown> {
    const upoLink = invoice.upo && invoice.ksefNumber ? new Date(now.getTime() + UPO_LINK_VALIDITY_MS) : undefined;
    return {
      ordinalNumber: invoice.ordinalNumber,
      ...(invoice.invoiceNumber && { invoiceNumber: invoice.invoiceNumber }),
      ...(invoice.ksefNumber && { ksefNumber: invoice.ksefNumber }),
      referenceNumber: invoice.referenceNumber,
      invoiceHash: invoice.invoiceHash,
      ...(invoice.acquisitionDate && { acquisitionDate: formatDateTime(invoice.acquisitionDate) }),
      invoicingDate: formatDateTime(invoice.invoicingDate),
      ...(invoice.permanentStorageDate && { permanentStorageDate: formatDateTime(invoice.permanentStorageDate) }),
      ...(upoLink && {
        upoDownloadUrl: ctx.storage.sign(invoiceUpoBlobPath(session.referenceNumber, invoice.ksefNumber!), upoLink),
        upoDownloadUrlExpirationDate: formatDateTime(upoLink),
      }),
      ...(invoice.invoicingMode && { invoicingMode: invoice.invoicingMode }),
      status: invoice.status,
    };
  }

  function counts(session: OnlineSession) {
    const final = session.invoices.filter(isFinal);
    const successful = final.filter((i) => i.status.code === 200).length;
    return { total: session.invoices.length, successful, failed: final.length - successful };
  }

  /** A GET about one of the caller's sessions (`{referenceNumber}`), for anyone who may read sessions. */
  function sessionReadRoute(
    path: string,
    rateLimit: RateLimitGroup,
    respond: (req: SandboxRequest, session: OnlineSession) => SandboxResponse,
  ): RouteDefinition {
    return { method: 'GET', path, auth: 'accessToken', rateLimit, permissions: READ_SESSION_PERMISSIONS, handler: (req) => respond(req, sessionOf(req)) };
  }

  function invoicePage(req: SandboxRequest, session: OnlineSession, invoices: SessionInvoice[]): SandboxResponse {
    const { continuationToken, items } = page(req, invoices, 1000);
    return { status: 200, body: { ...(continuationToken && { continuationToken }), invoices: items.map((i) => invoiceBody(session, i, req.now)) } };
  }

  function xml(content: string | Buffer): SandboxResponse {
    const body = Buffer.isBuffer(content) ? content : Buffer.from(content, 'utf8');
    return { status: 200, body, contentType: 'application/xml', headers: { 'x-ms-meta-hash': sha256Base64(body) } };
  }

  return [
    {
      method: 'POST',
      path: '/sessions/online',
      auth: 'accessToken',
      rateLimit: 'onlineSession',
      permissions: SEND_PERMISSIONS,
      handler: (req) => {
        const body = requireObject(req.json, '(body)');
        const formCode = requireObject(body.formCode, 'formCode');
        const encryption = requireObject(body.encryption, 'encryption');
        const requested = {
          systemCode: requireString(formCode, 'systemCode', 'formCode.systemCode'),
          schemaVersion: requireString(formCode, 'schemaVersion', 'formCode.schemaVersion'),
          value: requireString(formCode, 'value', 'formCode.value'),
        };
        const encryptedKey = requireBase64(encryption, 'encryptedSymmetricKey', 'encryption.encryptedSymmetricKey');
        const iv = requireBase64(encryption, 'initializationVector', 'encryption.initializationVector');
        const publicKeyId = encryption.publicKeyId == null ? undefined : requireString(encryption, 'publicKeyId', 'encryption.publicKeyId');
        const schema = schemaForFormCode(requested);
        if (!schema) throw inputValidationError(['Wskazany kod formularza nie jest wspierany.']);
        if (iv.length !== 16) throw inputValidationError([`'encryption.initializationVector' must be 16 bytes (Base64 of the AES IV), got ${iv.length}.`]);
        const key = keyFor(ctx, 'SymmetricKeyEncryption', publicKeyId);
        if (!key) throw ksefException(21470, `Klucz o identyfikatorze ${publicKeyId} nie jest wspierany.`);

        let symmetricKey: OnlineSession['symmetricKey'];
        try {
          const aesKey = rsaOaepDecrypt(key.privateKey, encryptedKey);
          if (aesKey.length === 32) symmetricKey = { key: aesKey, iv };
        } catch {
          // An undecryptable key is reported the KSeF way: asynchronously, as session status 415.
        }
        const { operation } = principalOf(req);
        const session: OnlineSession = {
          referenceNumber: newReferenceNumber('SO', req.now),
          schema,
          formCode: requested,
          symmetricKey,
          contextIdentifier: operation.contextIdentifier,
          authReferenceNumber: operation.referenceNumber,
          upoAuthentication: operation.tokenReferenceNumber
            ? { ksefTokenReferenceNumber: operation.tokenReferenceNumber }
            : { authenticationDocumentHash: operation.authenticationDocumentHash! },
          status: SESSION_STATUS.open,
          dateCreated: req.now,
          dateUpdated: req.now,
          validUntil: new Date(req.now.getTime() + ONLINE_SESSION_VALIDITY_MS),
          invoices: [],
          upoPages: [],
        };
        state.onlineSessions.set(session.referenceNumber, session);
        if (!symmetricKey) {
          ctx.scheduler.after(ctx.processingDelayMs, () => {
            session.status = SESSION_STATUS.keyDecryptionFailed;
            session.dateUpdated = ctx.clock.now();
          });
        }
        return { status: 201, body: { referenceNumber: session.referenceNumber, validUntil: formatDateTime(session.validUntil) } };
      },
    },
    {
      method: 'POST',
      path: '/sessions/online/{referenceNumber}/invoices',
      auth: 'accessToken',
      rateLimit: 'invoiceSend',
      permissions: SEND_PERMISSIONS,
      handler: (req) => {
        const session = openSessionOf(req, 'wysyłkę faktur');
        if (state.sessionsUnderMaintenance.has(session.referenceNumber)) {
          throw ksefException(
            21184,
            `Trwają prace serwisowe i sesja ${session.referenceNumber} jest tymczasowo niedostępna. Spróbuj ponownie później lub otwórz nową sesję, aby wysłać kolejne faktury.`,
          );
        }
        if (session.invoices.length >= MAX_INVOICES_PER_SESSION) {
          throw ksefException(21155, `Sesja o numerze referencyjnym ${session.referenceNumber} osiągnęła dozwolony limit liczby faktur ${MAX_INVOICES_PER_SESSION}.`);
        }
        const body = requireObject(req.json, '(body)');
        const invoiceHash = requireString(body, 'invoiceHash');
        const invoiceSize = requireInteger(body, 'invoiceSize', 'invoiceSize', 1);
        const encryptedInvoiceHash = requireString(body, 'encryptedInvoiceHash');
        const encryptedInvoiceSize = requireInteger(body, 'encryptedInvoiceSize', 'encryptedInvoiceSize', 1);
        const content = requireBase64(body, 'encryptedInvoiceContent');
        const offlineMode = optionalBoolean(body, 'offlineMode') ?? false;
        const hashOfCorrectedInvoice = body.hashOfCorrectedInvoice == null ? undefined : requireString(body, 'hashOfCorrectedInvoice');
        if (content.length !== encryptedInvoiceSize) throw ksefException(21402, 'Długość treści nie zgadza się z rozmiarem pliku.');
        if (sha256Base64(content) !== encryptedInvoiceHash) throw ksefException(21403, 'Skrót treści nie zgadza się ze skrótem pliku.');

        const invoice: SessionInvoice = {
          ordinalNumber: session.invoices.length + 1,
          referenceNumber: newReferenceNumber('EE', req.now),
          invoiceHash,
          invoiceSize,
          encryptedContent: content,
          offlineMode,
          hashOfCorrectedInvoice,
          invoicingDate: req.now,
          status: INVOICE_PROCESSING_STATUS.accepted,
        };
        session.invoices.push(invoice);
        session.dateUpdated = req.now;
        enqueueInvoice(ctx, session, invoice);
        return { status: 202, body: { referenceNumber: invoice.referenceNumber } };
      },
    },
    {
      method: 'POST',
      path: '/sessions/online/{referenceNumber}/close',
      auth: 'accessToken',
      // Its own group in the 2.8.1 contract (x-rate-limits of open-api.json, CIRFMF/ksef-api), no longer onlineSession's.
      rateLimit: 'onlineSessionClose',
      permissions: SEND_PERMISSIONS,
      handler: (req) => {
        const session = openSessionOf(req, 'jej zamknięcie');
        closeSession(session);
        return { status: 204 };
      },
    },
    {
      method: 'GET',
      path: '/sessions',
      auth: 'accessToken',
      rateLimit: 'sessionList',
      permissions: ['InvoiceWrite', 'Introspection', 'EnforcementOperations'],
      handler: (req) => {
        const context = principalOf(req).operation.contextIdentifier;
        const sessionType = req.query.get('sessionType');
        if (sessionType !== 'Online' && sessionType !== 'Batch') throw inputValidationError([`'sessionType' must be Online or Batch.`]);
        const statuses = req.query.getAll('statuses');
        const sessions = sessionType === 'Batch' ? [] : [...state.onlineSessions.values()];
        const listed = sessions
          .filter((s) => sameContext(s.contextIdentifier, context))
          .filter((s) => statuses.length === 0 || statuses.includes(commonStatus(s.status.code)))
          .sort((a, b) => b.dateCreated.getTime() - a.dateCreated.getTime())
          .map((s) => {
            const c = counts(s);
            return {
              referenceNumber: s.referenceNumber,
              status: s.status,
              dateCreated: formatDateTime(s.dateCreated),
              dateUpdated: formatDateTime(s.dateUpdated),
              validUntil: formatDateTime(s.validUntil),
              totalInvoiceCount: c.total,
              successfulInvoiceCount: c.successful,
              failedInvoiceCount: c.failed,
            };
          });
        const { continuationToken, items } = page(req, listed, 1000);
        return { status: 200, body: { ...(continuationToken && { continuationToken }), sessions: items } };
      },
    },
    sessionReadRoute('/sessions/{referenceNumber}', 'sessionMisc', (req, session) => {
      const c = counts(session);
      const linkExpiry = new Date(req.now.getTime() + UPO_LINK_VALIDITY_MS);
      return {
        status: 200,
        body: {
          status: session.status,
          dateCreated: formatDateTime(session.dateCreated),
          dateUpdated: formatDateTime(session.dateUpdated),
          validUntil: formatDateTime(session.validUntil),
          ...(session.upoPages.length > 0 && {
            upo: {
              pages: session.upoPages.map((p, i) => ({
                referenceNumber: p.referenceNumber,
                downloadUrl: ctx.storage.sign(sessionUpoBlobPath(session.referenceNumber, i), linkExpiry),
                downloadUrlExpirationDate: formatDateTime(linkExpiry),
              })),
            },
          }),
          invoiceCount: c.total,
          successfulInvoiceCount: c.successful,
          failedInvoiceCount: c.failed,
        },
      };
    }),
    sessionReadRoute('/sessions/{referenceNumber}/invoices', 'sessionInvoiceList', (req, session) => invoicePage(req, session, session.invoices)),
    sessionReadRoute('/sessions/{referenceNumber}/invoices/failed', 'sessionInvoiceList', (req, session) =>
      invoicePage(req, session, session.invoices.filter((i) => isFinal(i) && i.status.code !== 200)),
    ),
    sessionReadRoute('/sessions/{referenceNumber}/invoices/{invoiceReferenceNumber}', 'invoiceStatus', (req, session) => ({
      status: 200,
      body: invoiceBody(session, invoiceOf(req, session), req.now),
    })),
    sessionReadRoute('/sessions/{referenceNumber}/invoices/ksef/{ksefNumber}/upo', 'sessionMisc', (req, session) => {
      const ksefNumber = req.params.ksefNumber;
      const invoice = session.invoices.find((i) => i.ksefNumber === ksefNumber);
      if (!invoice?.upo) {
        throw ksefException(21178, `UPO o numerze KSeF ${ksefNumber} i numerze referencyjnym sesji ${session.referenceNumber} nie zostało znalezione.`);
      }
      return xml(invoice.upo);
    }),
    sessionReadRoute('/sessions/{referenceNumber}/invoices/{invoiceReferenceNumber}/upo', 'sessionMisc', (req, session) => {
      const invoice = invoiceOf(req, session);
      if (!invoice.upo) {
        throw ksefException(21178, `UPO faktury o numerze referencyjnym ${invoice.referenceNumber} dla sesji ${session.referenceNumber} nie zostało znalezione.`);
      }
      return xml(invoice.upo);
    }),
    sessionReadRoute('/sessions/{referenceNumber}/upo/{upoReferenceNumber}', 'sessionMisc', (req, session) => {
      const upoReferenceNumber = req.params.upoReferenceNumber;
      const upoPage = session.upoPages.find((p) => p.referenceNumber === upoReferenceNumber);
      if (!upoPage) {
        throw ksefException(21178, `UPO o numerze referencyjnym ${upoReferenceNumber} dla sesji ${session.referenceNumber} nie zostało znalezione.`);
      }
      return xml(upoPage.xml);
    }),
  ];
}

/** `CommonSessionStatus` of the `statuses` filter of GET /sessions. */
function commonStatus(code: number): 'InProgress' | 'Succeeded' | 'Failed' | 'Cancelled' {
  if (code < 200) return 'InProgress';
  if (code === 200) return 'Succeeded';
  return code === 440 ? 'Cancelled' : 'Failed';
}
