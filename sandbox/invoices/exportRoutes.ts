/** Invoice exports: the HTTP side (pobieranie-faktur.md, CIRFMF/ksef-docs; open-api.json). */
import type { ArchiveFormat } from '../../shared/protocol/archive/write';
import type { SandboxContext } from '../context';
import { formatDateTime } from '../dates';
import { optionalBoolean, requireObject, requireOneOf } from '../http/input';
import { principalOf, type RouteDefinition } from '../http/route';
import { readEncryptionInfo } from '../security/rules';
import type { InvoiceExportRecord } from './exportRecords';
import { exportOf, startExport } from './exports';
import type { InvoiceDateType } from '../../shared/protocol/model/invoiceMetadata';
import { readInvoiceQueryFilters } from './query';

const COMPRESSION_TYPES: readonly ArchiveFormat[] = ['Zip', 'TarGz'];

/** Which `InvoicePackage` field names the last invoice's date of a truncated package, per the filter's date type. */
const LAST_DATE_FIELD: Record<InvoiceDateType, string> = {
  Issue: 'lastIssueDate',
  Invoicing: 'lastInvoicingDate',
  PermanentStorage: 'lastPermanentStorageDate',
};

export function invoiceExportRoutes(ctx: SandboxContext): RouteDefinition[] {
  /** `InvoiceExportStatusResponse`, its part links signed afresh, valid for an hour at most until the package expires. */
  function statusBody(record: InvoiceExportRecord, now: Date): Record<string, unknown> {
    const pkg = record.package;
    const linkExpiry =
      record.packageExpirationDate &&
      new Date(Math.min(now.getTime() + ctx.state.invoiceExports.limits.partLinkValidityMs, record.packageExpirationDate.getTime()));
    return {
      status: record.status,
      ...(record.completedDate && { completedDate: formatDateTime(record.completedDate) }),
      ...(record.packageExpirationDate && { packageExpirationDate: formatDateTime(record.packageExpirationDate) }),
      ...(pkg &&
        linkExpiry && {
          package: {
            invoiceCount: pkg.invoiceCount,
            size: pkg.size,
            parts: pkg.parts.map((part) => ({
              ordinalNumber: part.ordinalNumber,
              partName: part.partName,
              method: 'GET',
              url: ctx.storage.sign(part.blobPath, linkExpiry),
              partSize: part.partSize,
              partHash: part.partHash,
              encryptedPartSize: part.encryptedPartSize,
              encryptedPartHash: part.encryptedPartHash,
              expirationDate: formatDateTime(linkExpiry),
            })),
            isTruncated: pkg.isTruncated,
            ...(pkg.lastDate && { [LAST_DATE_FIELD[record.filters.dateRange.dateType]]: pkg.lastDate }),
            ...(pkg.permanentStorageHwmDate && { permanentStorageHwmDate: formatDateTime(pkg.permanentStorageHwmDate) }),
            compressionType: pkg.compressionType,
          },
        }),
    };
  }

  return [
    {
      method: 'POST',
      path: '/invoices/exports',
      auth: 'accessToken',
      rateLimit: 'invoiceExport',
      permissions: ['InvoiceRead'],
      handler: (req) => {
        const body = requireObject(req.json, '(body)');
        const record = startExport(
          ctx,
          principalOf(req).operation.contextIdentifier,
          {
            filters: readInvoiceQueryFilters(body.filters, 'filters.'),
            encryption: readEncryptionInfo(ctx, body),
            onlyMetadata: optionalBoolean(body, 'onlyMetadata') ?? false,
            compressionType:
              body.compressionType == null ? 'Zip' : requireOneOf(body.compressionType, COMPRESSION_TYPES, 'compressionType'),
          },
          req.now,
        );
        return { status: 201, body: { referenceNumber: record.referenceNumber } };
      },
    },
    {
      method: 'GET',
      path: '/invoices/exports/{referenceNumber}',
      auth: 'accessToken',
      rateLimit: 'invoiceExportStatus',
      permissions: ['InvoiceRead'],
      handler: (req) => {
        const record = exportOf(ctx, principalOf(req).operation.contextIdentifier, req.params.referenceNumber, req.now);
        return { status: 200, body: statusBody(record, req.now) };
      },
    },
  ];
}
