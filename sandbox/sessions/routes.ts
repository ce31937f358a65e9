/**
 * Online and batch sessions, their invoices and UPOs: the HTTP side (sesja-interaktywna.md, sesja-wsadowa.md,
 * CIRFMF/ksef-docs; open-api.json). Opening and closing batch sessions is in `batch.ts`.
 */
import { sha256Base64 } from '../../shared/protocol/crypto/hashes';
import type { SandboxContext } from '../context';
import { formatDateTime } from '../dates';
import { inputValidationError, ksefException } from '../http/errors';
import { optionalBoolean, requireBase64, requireInteger, requireObject, requireString } from '../http/input';
import { page } from '../http/paging';
import { principalOf, type RouteDefinition, type SandboxRequest, type SandboxResponse } from '../http/route';
import type { RateLimitGroup } from '../limits/records';
import { readEncryptionInfo } from '../security/rules';
import { UPO_LINK_VALIDITY_MS, invoiceUpoBlobPath, sessionUpoBlobPath } from '../storage/store';
import { batchSessionRoutes, readFormCode } from './batch';
import { isFinal } from './processing';
import type { OnlineSession, SessionInvoice } from './records';
import { acceptInvoice, closeSession, invoiceCounts, invoiceOf, listSessions, openOnlineSession, openSessionOf, sessionOf } from './rules';

const SEND_PERMISSIONS = ['InvoiceWrite', 'PefInvoiceWrite', 'EnforcementOperations'];
const READ_SESSION_PERMISSIONS = ['InvoiceWrite', 'Introspection', 'PefInvoiceWrite', 'EnforcementOperations'];

export function sessionRoutes(ctx: SandboxContext): RouteDefinition[] {
  /** The caller's session named by the path's `{referenceNumber}`. */
  const callersSession = (req: SandboxRequest) =>
    sessionOf(ctx, principalOf(req).operation.contextIdentifier, req.params.referenceNumber, req.now);
  const callersOpenSession = (req: SandboxRequest, action: string) =>
    openSessionOf(ctx, principalOf(req).operation.contextIdentifier, req.params.referenceNumber, req.now, action);

  function invoiceBody(session: OnlineSession, invoice: SessionInvoice, now: Date): Record<string, unknown> {
    const upoLink = invoice.upo && invoice.ksefNumber ? new Date(now.getTime() + UPO_LINK_VALIDITY_MS) : undefined;
    return {
      ordinalNumber: invoice.ordinalNumber,
      ...(invoice.invoiceNumber && { invoiceNumber: invoice.invoiceNumber }),
      ...(invoice.ksefNumber && { ksefNumber: invoice.ksefNumber }),
      referenceNumber: invoice.referenceNumber,
      invoiceHash: invoice.invoiceHash,
      ...(invoice.invoiceFileName && { invoiceFileName: invoice.invoiceFileName }),
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

  /** A GET about one of the caller's sessions (`{referenceNumber}`), for anyone who may read sessions. */
  function sessionReadRoute(
    path: string,
    rateLimit: RateLimitGroup,
    respond: (req: SandboxRequest, session: OnlineSession) => SandboxResponse,
  ): RouteDefinition {
    return {
      method: 'GET',
      path,
      auth: 'accessToken',
      rateLimit,
      permissions: READ_SESSION_PERMISSIONS,
      handler: (req) => respond(req, callersSession(req)),
    };
  }

  function invoicePage(req: SandboxRequest, session: OnlineSession, invoices: SessionInvoice[]): SandboxResponse {
    const { continuationToken, items } = page(req, invoices, 1000);
    return {
      status: 200,
      body: { ...(continuationToken && { continuationToken }), invoices: items.map((i) => invoiceBody(session, i, req.now)) },
    };
  }

  function xml(content: string | Buffer): SandboxResponse {
    const body = Buffer.isBuffer(content) ? content : Buffer.from(content, 'utf8');
    return { status: 200, body, contentType: 'application/xml', headers: { 'x-ms-meta-hash': sha256Base64(body) } };
  }

  return [
    ...batchSessionRoutes(ctx),
    {
      method: 'POST',
      path: '/sessions/online',
      auth: 'accessToken',
      rateLimit: 'onlineSession',
      permissions: SEND_PERMISSIONS,
      handler: (req) => {
        const body = requireObject(req.json, '(body)');
        const formCode = readFormCode(body);
        const encryption = readEncryptionInfo(ctx, body);
        const session = openOnlineSession(ctx, principalOf(req).operation, { ...formCode, ...encryption }, req.now);
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
        const session = callersOpenSession(req, 'wysyłkę faktur');
        const body = requireObject(req.json, '(body)');
        const invoice = acceptInvoice(
          ctx,
          session,
          {
            invoiceHash: requireString(body, 'invoiceHash'),
            invoiceSize: requireInteger(body, 'invoiceSize', 'invoiceSize', 1),
            encryptedInvoiceHash: requireString(body, 'encryptedInvoiceHash'),
            encryptedInvoiceSize: requireInteger(body, 'encryptedInvoiceSize', 'encryptedInvoiceSize', 1),
            encryptedInvoiceContent: requireBase64(body, 'encryptedInvoiceContent'),
            offlineMode: optionalBoolean(body, 'offlineMode') ?? false,
            hashOfCorrectedInvoice: body.hashOfCorrectedInvoice == null ? undefined : requireString(body, 'hashOfCorrectedInvoice'),
          },
          req.now,
        );
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
        closeSession(ctx, callersOpenSession(req, 'jej zamknięcie'));
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
        const listed = listSessions(ctx, context, sessionType, statuses).map((s) => {
          const c = invoiceCounts(s);
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
      const c = invoiceCounts(session);
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
    sessionReadRoute('/sessions/{referenceNumber}/invoices', 'sessionInvoiceList', (req, session) =>
      invoicePage(req, session, session.invoices),
    ),
    sessionReadRoute('/sessions/{referenceNumber}/invoices/failed', 'sessionInvoiceList', (req, session) =>
      invoicePage(
        req,
        session,
        session.invoices.filter((i) => isFinal(i) && i.status.code !== 200),
      ),
    ),
    sessionReadRoute('/sessions/{referenceNumber}/invoices/{invoiceReferenceNumber}', 'invoiceStatus', (req, session) => ({
      status: 200,
      body: invoiceBody(session, invoiceOf(session, req.params.invoiceReferenceNumber), req.now),
    })),
    sessionReadRoute('/sessions/{referenceNumber}/invoices/ksef/{ksefNumber}/upo', 'sessionMisc', (req, session) => {
      const ksefNumber = req.params.ksefNumber;
      const invoice = session.invoices.find((i) => i.ksefNumber === ksefNumber);
      if (!invoice?.upo) {
        throw ksefException(
          21178,
          `UPO o numerze KSeF ${ksefNumber} i numerze referencyjnym sesji ${session.referenceNumber} nie zostało znalezione.`,
        );
      }
      return xml(invoice.upo);
    }),
    sessionReadRoute('/sessions/{referenceNumber}/invoices/{invoiceReferenceNumber}/upo', 'sessionMisc', (req, session) => {
      const invoice = invoiceOf(session, req.params.invoiceReferenceNumber);
      if (!invoice.upo) {
        throw ksefException(
          21178,
          `UPO faktury o numerze referencyjnym ${invoice.referenceNumber} dla sesji ${session.referenceNumber} nie zostało znalezione.`,
        );
      }
      return xml(invoice.upo);
    }),
    sessionReadRoute('/sessions/{referenceNumber}/upo/{upoReferenceNumber}', 'sessionMisc', (req, session) => {
      const upoReferenceNumber = req.params.upoReferenceNumber;
      const upoPage = session.upoPages.find((p) => p.referenceNumber === upoReferenceNumber);
      if (!upoPage) {
        throw ksefException(
          21178,
          `UPO o numerze referencyjnym ${upoReferenceNumber} dla sesji ${session.referenceNumber} nie zostało znalezione.`,
        );
      }
      return xml(upoPage.xml);
    }),
  ];
}
