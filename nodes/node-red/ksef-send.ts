import type { InvoiceInput, InvoiceResult, InvoiceSchema, SendInvoicesOptions, SendInvoicesResult } from '../../shared';
import { NodeInputError, registerInputNode, type InputNodeDef, type StatusView } from './base/inputNode';
import type { NodeAPI } from './runtimeTypes';

interface KsefSendDef extends InputNodeDef {
  schema?: InvoiceSchema;
  waitSeconds?: number | string;
  fetchUpo?: boolean;
  offlineMode?: boolean;
}

const DEFAULT_WAIT_SECONDS = 120;

/**
 * Sends the invoices of one message in one online session and puts the per-invoice results on the message.
 * A message with rejected invoices is still sent (the accepted ones keep their KSeF numbers) and then
 * reported through `done(err)`, so Catch nodes see it.
 */
export default function registerKsefSend(RED: NodeAPI): void {
  registerInputNode<KsefSendDef>(RED, 'ksef-send', {
    create: (_node, def) => {
      const options = sendOptions(def);
      return async ({ msg, client, busy }) => {
        // A missing config first, as the canvas already shows it, then the payload.
        const ksef = client();
        const invoices = invoicesOf(msg.payload);
        busy('sending', invoices.length);
        const result = await ksef.sessions.online.send(invoices, options);
        const results = withSessions(result);
        const inputIsArray = Array.isArray(msg.payload);
        const failed = results.filter((invoice) => !invoice.accepted && !invoice.pending);
        return {
          output: {
            payload: inputIsArray ? results : results[0],
            ksef: {
              environment: result.environment,
              sessionReferenceNumber: result.sessionReferenceNumber,
              sessionStatus: result.sessionStatus,
              sessionUpo: result.sessionUpo,
            },
          },
          status: summaryStatus(result),
          error: failed.length > 0 ? new Error(failureMessage(failed, results.length, inputIsArray)) : undefined,
        };
      };
    },
  });

  /** Accepts what the help promises: XML as a string or Buffer, `{ xml, offlineMode }`, or an array of those. */
  function invoicesOf(payload: unknown): InvoiceInput[] {
    if (payload === undefined || payload === null || payload === '' || (Array.isArray(payload) && payload.length === 0)) {
      throw new NodeInputError(RED._('ksef-send.errors.empty-payload'));
    }
    const items = Array.isArray(payload) ? payload : [payload];
    items.forEach((item, index) => {
      if (!isInvoiceInput(item)) {
        const field = Array.isArray(payload) ? `msg.payload[${index}]` : 'msg.payload';
        throw new NodeInputError(RED._('ksef-send.errors.bad-payload', { field, type: describeType(item) }));
      }
    });
    return items as InvoiceInput[];
  }

  /**
   * Every outcome with its count ("1 accepted, 1 rejected"), so a partial success is visible on the canvas, marked
   * "(sandbox)" when the simulator answered. Red when any invoice failed, yellow when some are still processing, green
   * when all were accepted.
   */
  function summaryStatus({ invoices, environment }: SendInvoicesResult): StatusView {
    const counts = { accepted: 0, rejected: 0, 'not-sent': 0, pending: 0 };
    for (const invoice of invoices) counts[outcomeOf(invoice)] += 1;
    const keys = (Object.keys(counts) as Array<keyof typeof counts>)
      .filter((outcome) => counts[outcome] > 0)
      .map((outcome) => ({ key: outcome, count: counts[outcome] }));
    const fill = counts.rejected + counts['not-sent'] > 0 ? 'red' : counts.pending > 0 ? 'yellow' : 'green';
    return { keys, fill, environment };
  }

  function failureMessage(failed: InvoiceResult[], total: number, isArray: boolean): string {
    const reasons = failed
      .map((invoice) => {
        const field = isArray ? `msg.payload[${invoice.index}]` : 'msg.payload';
        const number = invoice.invoiceNumber ? ` (${invoice.invoiceNumber})` : '';
        return `${field}${number}: ${reasonOf(invoice).replace(/\.+$/, '')}`;
      })
      .join('; ');
    return RED._('ksef-send.errors.rejected', { failed: failed.length, total, reasons });
  }
}

/**
 * Each result names the session its invoice went in: when KSeF made a session unavailable (21184) the engine went on
 * in a new one, and only the invoices of earlier sessions carry their own; the rest went in the result's session
 * (none when no invoice passed the local checks, so no session was opened).
 */
function withSessions(result: SendInvoicesResult): InvoiceResult[] {
  return result.invoices.map((invoice) => {
    const sessionReferenceNumber = invoice.sessionReferenceNumber ?? (result.sessionReferenceNumber || undefined);
    return sessionReferenceNumber === undefined ? invoice : { ...invoice, sessionReferenceNumber };
  });
}

function sendOptions(def: KsefSendDef): SendInvoicesOptions {
  const waitSeconds = Number(def.waitSeconds);
  return {
    schema: def.schema || 'FA(3)',
    waitForProcessingMs: (Number.isFinite(waitSeconds) && waitSeconds >= 0 ? waitSeconds : DEFAULT_WAIT_SECONDS) * 1000,
    fetchUpo: def.fetchUpo !== false,
    offlineMode: def.offlineMode === true,
  };
}

function isXml(value: unknown): value is string | Buffer {
  return typeof value === 'string' || Buffer.isBuffer(value);
}

function isInvoiceInput(value: unknown): value is InvoiceInput {
  return isXml(value) || (typeof value === 'object' && value !== null && isXml((value as { xml?: unknown }).xml));
}

function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'object') return `object with keys [${Object.keys(value).join(', ')}]`;
  return typeof value;
}

/**
 * An invoice the engine did not send before its deadline (KSeF's rate limit) is "not sent", with `retryAt` in its error;
 * told apart by the error's name, as the result carries the error as plain data.
 */
function outcomeOf(invoice: InvoiceResult): 'accepted' | 'rejected' | 'not-sent' | 'pending' {
  if (invoice.accepted) return 'accepted';
  if (invoice.pending) return 'pending';
  return invoice.error?.name === 'KsefRateLimitError' ? 'not-sent' : 'rejected';
}

/** KSeF's own status for a rejected invoice, else the engine's error (local validation, send failure). */
function reasonOf(invoice: InvoiceResult): string {
  if (invoice.status && invoice.status.code !== 200) {
    const details = invoice.status.details?.length ? ` (${invoice.status.details.join('; ')})` : '';
    return `${invoice.status.code} ${invoice.status.description}${details}`;
  }
  const message = invoice.error?.message;
  return typeof message === 'string' ? message : JSON.stringify(invoice.error ?? {});
}
