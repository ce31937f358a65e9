/** `client.sessions.send`: which path the invoices take ('online', 'batch' or 'auto'). */
import { KsefInputError } from '../http/errors';
import { DEFAULT_AUTO_BATCH_THRESHOLD } from './batch/batch';
import type { InvoiceInput, SendOptions } from './types';

const SEND_MODES = ['online', 'batch', 'auto'] as const;

/** The path `invoices` take: the mode given (default 'online'); 'auto' goes batch from `autoBatchThreshold` invoices on. */
export function chooseSendMode(invoices: InvoiceInput[], options: SendOptions = {}): 'online' | 'batch' {
  const mode = options.mode ?? 'online';
  if (!SEND_MODES.includes(mode)) {
    throw new KsefInputError(`options.mode must be one of ${SEND_MODES.join(', ')}; got ${JSON.stringify(mode)}.`, {
      field: 'options.mode',
    });
  }
  const threshold = options.autoBatchThreshold ?? DEFAULT_AUTO_BATCH_THRESHOLD;
  if (!Number.isInteger(threshold) || threshold < 1) {
    throw new KsefInputError(
      `options.autoBatchThreshold must be a whole number of invoices, 1 or more; got ${JSON.stringify(threshold)}.`,
      {
        field: 'options.autoBatchThreshold',
      },
    );
  }
  if (mode !== 'auto') return mode;
  return Array.isArray(invoices) && invoices.length >= threshold ? 'batch' : 'online';
}
