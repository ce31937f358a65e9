/** Invoice retrieval by KSeF number: the HTTP side (pobieranie-faktur/pobieranie-faktur.md, CIRFMF/ksef-docs). */
import { sha256Base64 } from '../../shared/protocol/crypto/hashes';
import type { SandboxContext } from '../context';
import { principalOf, type RouteDefinition } from '../http/route';
import { invoiceXmlFor } from './rules';

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
  ];
}
