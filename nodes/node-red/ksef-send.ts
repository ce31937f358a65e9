import type {
  BatchProgress,
  BatchSendResult,
  InvoiceInput,
  InvoiceResult,
  InvoiceSchema,
  SendInvoicesResult,
  SendMode,
  SendOptions,
} from '../../shared';
import { NodeInputError, registerInputNode, type InputNodeDef, type StatusView } from './base/inputNode';
import type { Node, NodeAPI, NodeMessage } from './runtimeTypes';

interface KsefSendDef extends InputNodeDef {
  schema?: InvoiceSchema;
  waitSeconds?: number | string;
  fetchUpo?: boolean;
  offlineMode?: boolean;
  /** Absent in flows made before the mode existed: those keep sending online. */
  mode?: SendMode;
  /** Auto: from this many invoices on, batch (blank: the engine's default). */
  autoBatchThreshold?: number | string;
  compressionType?: 'Zip' | 'TarGz';
  maxInvoicesPerSession?: number | string;
  /** Largest part before encryption, in MB of 1,000,000 bytes (blank: KSeF's 100 MB). */
  partSizeMB?: number | string;
}

const DEFAULT_WAIT_SECONDS = 120;
const SEND_MODES: readonly SendMode[] = ['online', 'batch', 'auto'];
/** At most this often a batch's progress changes the status (a new phase or session shows at once). */
const PROGRESS_INTERVAL_MS = 250;
/** The failures the error message names one by one; the rest are counted (all are in msg.payload). */
const REASONS_NAMED = 10;

/**
 * Sends the invoices of one message to KSeF and puts the per-invoice results on the message: online (one session,
 * invoice by invoice), in batch sessions (encrypted packages uploaded in parts, progress in the status), or Auto
 * (batch from a number of invoices on), as set in the node or by `msg.mode`. A message with rejected invoices is
 * still sent (the accepted ones keep their KSeF numbers) and then reported through `done(err)`, so Catch nodes see it.
 * A batch that stopped half way (a lost connection, a restart) is kept in the config node's context (the engine's
 * state store): the same invoices sent again finish it instead of sending them twice.
 */
export default function registerKsefSend(RED: NodeAPI): void {
  registerInputNode<KsefSendDef>(RED, 'ksef-send', {
    create: (_node, def) => {
      const options = sendOptions(def);
      return async ({ msg, node, client, busy }) => {
        // A missing config first, as the canvas already shows it, then the payload.
        const ksef = client();
        const invoices = invoicesOf(msg.payload);
        const mode = modeOf(msg, def);
        busy('sending', invoices.length);
        const progress = progressStatus(node);
        let result: SendInvoicesResult | BatchSendResult;
        try {
          result = await ksef.sessions.send(invoices, { ...options, mode, onProgress: progress.report });
        } finally {
          progress.stop();
        }
        const results = result.mode === 'online' ? withSessions(result) : result.invoices;
        const inputIsArray = Array.isArray(msg.payload);
        const failed = results.filter((invoice) => !invoice.accepted && !invoice.pending);
        return {
          output: { payload: inputIsArray ? results : results[0], ksef: sessionsOf(result) },
          status: summaryStatus(result),
          error: failed.length > 0 ? new Error(failureMessage(failed, results.length, inputIsArray)) : undefined,
        };
      };
    },
  });

  /** `msg.mode` when set, else the node's mode (flows made before the setting existed send online). */
  function modeOf(msg: NodeMessage, def: KsefSendDef): SendMode {
    const mode = msg.mode ?? def.mode ?? 'online';
    if (!SEND_MODES.includes(mode as SendMode)) {
      throw new NodeInputError(
        RED._('ksef-send.errors.bad-mode', { mode: JSON.stringify(mode), modes: SEND_MODES.join(', ') }),
        'bad-mode',
      );
    }
    return mode as SendMode;
  }

  /**
   * A batch's progress in the status (blue): "packing 5,000", "part 3/7", "processing 1,200/5,000", with
   * "session 2/3: " before when the input takes several sessions. A new phase or session shows at once; changes
   * within a phase at most every PROGRESS_INTERVAL_MS, the last of them always (Node-RED sends every status to
   * the editor, and a package of thousands reports each step).
   */
  function progressStatus(node: Node): { report(progress: BatchProgress): void; stop(): void } {
    let shownStep = '';
    let shownAt = 0;
    let waiting: ReturnType<typeof setTimeout> | undefined;
    let latest = '';
    let stopped = false;
    const show = () => {
      waiting = undefined;
      shownAt = Date.now();
      node.status({ fill: 'blue', shape: 'dot', text: latest });
    };
    return {
      report(progress) {
        if (stopped || progress.phase === 'done') return;
        const text = progressText(progress);
        if (text === latest) return;
        latest = text;
        const step = `${progress.session}/${progress.phase}`;
        if (step !== shownStep || Date.now() - shownAt >= PROGRESS_INTERVAL_MS) {
          shownStep = step;
          clearTimeout(waiting);
          show();
        } else {
          waiting ??= setTimeout(show, PROGRESS_INTERVAL_MS - (Date.now() - shownAt));
        }
      },
      // The outcome's status follows: nothing of the progress may come after it.
      stop() {
        stopped = true;
        clearTimeout(waiting);
      },
    };
  }

  function progressText({ phase, session, sessions, partsUploaded, parts, invoicesProcessed, invoices }: BatchProgress): string {
    const number = (value: number) => grouped(value, RED._('ksef-send.numberGroupSeparator'));
    const step =
      phase === 'packing'
        ? RED._('ksef-send.status.packing', { count: number(invoices) })
        : phase === 'uploading'
          ? // The part on its way: the first not yet uploaded (parts go a few at a time, in order).
            RED._('ksef-send.status.uploading', { part: Math.min(partsUploaded + 1, parts), parts })
          : RED._('ksef-send.status.processing', { done: number(invoicesProcessed), total: number(invoices) });
    return sessions > 1 ? `${RED._('ksef-send.status.session', { session, sessions })}: ${step}` : step;
  }

  /**
   * Accepts what the help promises: XML as a string or Buffer, `{ xml, offlineMode, fileName }`,
   * `{ path, offlineMode, fileName }`, or an array of those; each goes to the engine as it is.
   */
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
  function summaryStatus({ invoices, environment }: SendInvoicesResult | BatchSendResult): StatusView {
    const counts = { accepted: 0, rejected: 0, 'not-sent': 0, pending: 0 };
    for (const invoice of invoices) counts[outcomeOf(invoice)] += 1;
    const keys = (Object.keys(counts) as Array<keyof typeof counts>)
      .filter((outcome) => counts[outcome] > 0)
      .map((outcome) => ({ key: outcome, count: counts[outcome] }));
    const fill = counts.rejected + counts['not-sent'] > 0 ? 'red' : counts.pending > 0 ? 'yellow' : 'green';
    return { keys, fill, environment };
  }

  /** The first REASONS_NAMED failures by field and reason (a batch may have thousands), the rest counted. */
  function failureMessage(failed: InvoiceResult[], total: number, isArray: boolean): string {
    const named = failed
      .slice(0, REASONS_NAMED)
      .map((invoice) => {
        const field = isArray ? `msg.payload[${invoice.index}]` : 'msg.payload';
        const number = invoice.invoiceNumber ? ` (${invoice.invoiceNumber})` : '';
        return `${field}${number}: ${reasonOf(invoice).replace(/\.+$/, '')}`;
      })
      .join('; ');
    const more = failed.length - REASONS_NAMED;
    const reasons = more > 0 ? `${named}; ${RED._('ksef-send.errors.more', { count: more })}` : named;
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

/** `msg.ksef`: which KSeF answered, how the invoices went, and their sessions (with the session UPO pages). */
function sessionsOf(result: SendInvoicesResult | BatchSendResult): Record<string, unknown> {
  if (result.mode === 'batch') return { environment: result.environment, mode: result.mode, sessions: result.sessions };
  return {
    environment: result.environment,
    mode: result.mode,
    sessionReferenceNumber: result.sessionReferenceNumber,
    sessionStatus: result.sessionStatus,
    sessionUpo: result.sessionUpo,
  };
}

/** The node's settings as engine options; a blank batch setting leaves the engine's default (and its checks). */
function sendOptions(def: KsefSendDef): Omit<SendOptions, 'mode' | 'onProgress'> {
  const waitSeconds = Number(def.waitSeconds);
  const partSizeMB = numberSetting(def.partSizeMB);
  return {
    schema: def.schema || 'FA(3)',
    waitForProcessingMs: (Number.isFinite(waitSeconds) && waitSeconds >= 0 ? waitSeconds : DEFAULT_WAIT_SECONDS) * 1000,
    fetchUpo: def.fetchUpo !== false,
    offlineMode: def.offlineMode === true,
    compressionType: def.compressionType === 'TarGz' ? 'TarGz' : 'Zip',
    autoBatchThreshold: numberSetting(def.autoBatchThreshold),
    maxInvoicesPerSession: numberSetting(def.maxInvoicesPerSession),
    partSizeBytes: partSizeMB === undefined ? undefined : Math.round(partSizeMB * 1_000_000),
  };
}

function numberSetting(value: number | string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  return Number(value);
}

/** `1234567` as "1,234,567" with the catalogue's separator (a no-break space in Polish). */
function grouped(value: number, separator: string): string {
  return String(value).replace(/\B(?=(\d{3})+(?!\d))/g, separator);
}

function isXml(value: unknown): value is string | Buffer {
  return typeof value === 'string' || Buffer.isBuffer(value);
}

/**
 * XML (a string or Buffer), `{ xml }`, or `{ path }`: a local file the engine reads when it sends the invoice (in batch
 * mode only when packing it, so thousands of paths keep memory flat). A missing or unreadable file is the engine's
 * error for that invoice alone; `{ xml, path }` goes to the engine too, which refuses that invoice alone.
 */
function isInvoiceInput(value: unknown): value is InvoiceInput {
  if (isXml(value)) return true;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const { xml, path } = value as { xml?: unknown; path?: unknown };
  return isXml(xml) || (xml === undefined && typeof path === 'string' && path.length > 0);
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
