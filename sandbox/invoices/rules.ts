/** Which stored invoice a context may download (pobieranie-faktur/pobieranie-faktur.md, CIRFMF/ksef-docs; open-api.json). */
import type { ContextIdentifier } from '../../shared/protocol/types';
import { sameContext } from '../auth/records';
import type { SandboxContext } from '../context';
import { ksefException } from '../http/errors';

/**
 * The original XML of the invoice `ksefNumber`, for the context that sent it or the seller's NIP context: 21164 when
 * the context may not see it, 21165 until it is in permanent storage.
 */
export function invoiceXmlFor(ctx: SandboxContext, context: ContextIdentifier, ksefNumber: string): Buffer {
  const found = ctx.state.invoicesByKsefNumber.get(ksefNumber);
  const visible =
    found &&
    (sameContext(found.session.contextIdentifier, context) || (context.type === 'Nip' && found.invoice.sellerNip === context.value));
  if (!found || !visible || !found.invoice.xml) {
    throw ksefException(21164, `Faktura o numerze KSeF ${ksefNumber} nie została znaleziona.`);
  }
  if (!found.invoice.permanentStorageDate) {
    throw ksefException(
      21165,
      `Faktura o numerze KSeF ${ksefNumber} została przetworzona, ale nie jest jeszcze dostępna do pobrania. Spróbuj ponownie później.`,
    );
  }
  return found.invoice.xml;
}
