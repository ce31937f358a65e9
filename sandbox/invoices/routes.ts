/** Invoice retrieval: the HTTP side (pobieranie-faktur/pobieranie-faktur.md, CIRFMF/ksef-docs; open-api.json 2.8.1, CIRFMF/ksef-api). */
import { sha256Base64 } from '../../shared/protocol/crypto/hashes';
import type { SandboxContext } from '../context';
import { queryInteger, requireOneOf } from '../http/input';
import { principalOf, type RouteDefinition } from '../http/route';
import { queryMetadataPage, readInvoiceQueryFilters, type SortOrder } from './query';
import { invoiceXmlFor } from './rules';

/** Page sizes of the metadata query (open-api.json: pageSize 10-250, default 10). */
const METADATA_PAGE_SIZE = { min: 10, max: 250 };

export function invoiceRoutes(ctx: SandboxContext): RouteDefinition[] {
  return [
    {
      method: 'GET',
      path: '/invoices/ksef/{ksefNumber}',
      auth: 'accessToken',
      rateLimit: 'invoiceDownload',
      permissions: ['InvoiceRead'],
      handler: (req) => {
        const xml = invoiceXmlFor(ctx, principalOf(req).operation.contextIdentifier, req.params.ksefNumber);
        return { status: 200, body: xml, contentType: 'application/xml', headers: { 'x-ms-meta-hash': sha256Base64(xml) } };
      },
    },
    {
      method: 'POST',
      path: '/invoices/query/metadata',
      auth: 'accessToken',
      rateLimit: 'invoiceMetadata',
      permissions: ['InvoiceRead'],
      handler: (req) => {
        const sortOrder: SortOrder = requireOneOf(req.query.get('sortOrder') ?? 'Asc', ['Asc', 'Desc'] as const, 'sortOrder');
        const pageOffset = queryInteger(req, 'pageOffset', 0, 0);
        const pageSize = queryInteger(req, 'pageSize', METADATA_PAGE_SIZE.min, METADATA_PAGE_SIZE.min, METADATA_PAGE_SIZE.max);
        const filters = readInvoiceQueryFilters(req.json);
        const page = queryMetadataPage(ctx, principalOf(req).operation.contextIdentifier, filters, { sortOrder, pageOffset, pageSize });
        return { status: 200, body: page };
      },
    },
  ];
}
