/** Which stored invoice a context may download (pobieranie-faktur/pobieranie-faktur.md, CIRFMF/ksef-docs; open-api.json). */
import type { ContextIdentifier } from '../../shared/protocol/types';
import type { SandboxContext } from '../context';
import { ksefException } from '../http/errors';
import { isVisibleTo } from './query';

/**
 * The original XML of the invoice `ksefNumber`, for any context the invoice names as one of its subjects (the
 * seller or the context that sent it, the buyer, a Podmiot3 party, the authorized subject): 21164 when the context
 * may not see it, 21165 until it is in permanent storage.
 */
export function invoiceXmlFor(ctx: SandboxContext, context: ContextIdentifier, ksefNumber: string): Buffer {
  const found = ctx.state.invoicesByKsefNumber.get(ksefNumber);
  if (!found || !isVisibleTo(found, context) || !found.invoice.xml) {
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
