import type { EnvironmentName, InvoiceInput, InvoiceResult, InvoiceSchema, SendInvoicesOptions } from '../../shared';
import type { KsefConfigNode } from './ksef-config';
import { hasToJson } from './operationNode';
import type { Node, NodeAPI, NodeDef, NodeStatus } from './runtimeTypes';

interface KsefSendDef extends NodeDef {
  /** Id of the ksef-config node. */
  ksef: string;
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
  function KsefSend(this: Node, def: KsefSendDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const config = RED.nodes.getNode(def.ksef) as KsefConfigNode | null;
    const options = sendOptions(def);
    const status = (fill: 'blue' | 'green' | 'yellow' | 'red', key: string, count?: number) =>
      node.status({ fill, shape: 'dot', text: RED._(`ksef-send.status.${key}`, count === undefined ? undefined : { count }) });

    if (!config) status('red', 'no-config');

    node.on('input', (msg, send, done) => {
      void (async () => {
        if (!config) return done(new Error(RED._('ksef-send.errors.no-config')));
        let invoices: InvoiceInput[];
        try {
          invoices = invoicesOf(msg.payload);
        } catch (err) {
          status('red', 'bad-input');
          return done(err as Error);
        }

        status('blue', 'sending', invoices.length);
        let result;
        try {
          result = await config.client().sessions.online.send(invoices, options);
        } catch (err) {
          status('red', 'failed');
          if (hasToJson(err)) msg.ksef = { error: err.toJSON() };
          return done(err instanceof Error ? err : new Error(String(err)));
        }

        const inputIsArray = Array.isArray(msg.payload);
        msg.payload = inputIsArray ? result.invoices : result.invoices[0];
        msg.ksef = {
          environment: result.environment,
          sessionReferenceNumber: result.sessionReferenceNumber,
          sessionStatus: result.sessionStatus,
          sessionUpo: result.sessionUpo,
        };
        const failed = result.invoices.filter((invoice) => !invoice.accepted && !invoice.pending);
        node.status(summaryStatus(result.invoices, result.environment));

        send(msg);
        done(failed.length > 0 ? new Error(failureMessage(failed, result.invoices.length, inputIsArray)) : undefined);
      })().catch((err: unknown) => done(err instanceof Error ? err : new Error(String(err))));
    });
  }

  /** Accepts what the help promises: XML as a string or Buffer, `{ xml, offlineMode }`, or an array of those. */
  function invoicesOf(payload: unknown): InvoiceInput[] {
    if (payload === undefined || payload === null || payload === '' || (Array.isArray(payload) && payload.length === 0)) {
      throw new Error(RED._('ksef-send.errors.empty-payload'));
    }
    const items = Array.isArray(payload) ? payload : [payload];
    items.forEach((item, index) => {
      if (!isInvoiceInput(item)) {
        const field = Array.isArray(payload) ? `msg.payload[${index}]` : 'msg.payload';
        throw new Error(RED._('ksef-send.errors.bad-payload', { field, type: describeType(item) }));
      }
    });
    return items as InvoiceInput[];
  }

  /**
   * Every outcome with its count ("1 accepted, 1 rejected"), so a partial success is visible on the canvas, marked
   * "(sandbox)" when the simulator answered, so its KSeF numbers are not taken for real ones. Red when any invoice
   * failed, yellow when some are still processing, green when all were accepted.
   */
  function summaryStatus(invoices: InvoiceResult[], environment: EnvironmentName): NodeStatus {
    const counts = { accepted: 0, rejected: 0, 'not-sent': 0, pending: 0 };
    for (const invoice of invoices) counts[outcomeOf(invoice)] += 1;
    const text = (Object.keys(counts) as Array<keyof typeof counts>)
      .filter((outcome) => counts[outcome] > 0)
      .map((outcome) => RED._(`ksef-send.status.${outcome}`, { count: counts[outcome] }))
      .join(', ');
    const marker = environment === 'sandbox' ? ` ${RED._('ksef-send.status.sandbox')}` : '';
    const fill = counts.rejected + counts['not-sent'] > 0 ? 'red' : counts.pending > 0 ? 'yellow' : 'green';
    return { fill, shape: 'dot', text: text + marker };
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

  RED.nodes.registerType('ksef-send', KsefSend as (this: never, def: never) => void);
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
