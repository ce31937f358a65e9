/** Invoice retrieval by KSeF number (pobieranie-faktur/pobieranie-faktur.md, CIRFMF/ksef-docs). */
import { sha256Base64 } from '../../shared/protocol/crypto/hashes';
import { principalOf, type RouteDefinition, type SandboxContext } from '../context';
import { ksefException } from '../errors';

export function invoiceRoutes(ctx: SandboxContext): RouteDefinition[] {
  return [
    {
      method: 'GET',
      path: '/invoices/ksef/{ksefNumber}',
      auth: 'accessToken',
      rateLimit: 'invoiceDownload',
      permissions: ['InvoiceRead'],
      handler: (req) => {
        const ksefNumber = req.params.ksefNumber;
        const context = principalOf(req).operation.contextIdentifier;
        const found = ctx.state.invoicesByKsefNumber.get(ksefNumber);
        const visible =
          found &&
          ((found.session.contextIdentifier.type === context.type && found.session.contextIdentifier.value === context.value) ||
            (context.type === 'Nip' && found.invoice.sellerNip === context.value));
        if (!found || !visible || !found.invoice.xml) {
          throw ksefException(21164, `Faktura o numerze KSeF ${ksefNumber} nie została znaleziona.`);
        }
        if (!found.invoice.permanentStorageDate) {
          throw ksefException(21165, `Faktura o numerze KSeF ${ksefNumber} została przetworzona, ale nie jest jeszcze dostępna do pobrania. Spróbuj ponownie później.`);
        }
        const xml = found.invoice.xml;
        return { status: 200, body: xml, contentType: 'application/xml', headers: { 'x-ms-meta-hash': sha256Base64(xml) } };
      },
    },
  ];
}
