import {
  KsefInputError,
  type InvoiceDateType,
  type InvoiceMetadata,
  type InvoiceQueryFilters,
  type InvoiceSubjectType,
} from '../../shared';
import { NodeInputError } from './base/inputNode';
import { identifierFrom, registerOperationNode, type OperationNodeDef } from './base/operationNode';
import { friendlyJsonOf, invoiceOutput, type InvoiceOutput } from './invoiceOutput';
import type { Node, NodeAPI, NodeMessage } from './runtimeTypes';

interface KsefInvoiceDef extends OperationNodeDef {
  subjectType?: InvoiceSubjectType;
  dateType?: InvoiceDateType;
  daysBack?: number | string;
  /** 'item' (default): one message per invoice; 'array': one message with all of them. */
  output?: 'item' | 'array';
  includeJson?: boolean;
  /** Download: how long to wait for KSeF to build the export package before the node fails and the next message resumes it. */
  waitSeconds?: number | string;
}

const DEFAULT_DAYS_BACK = 30;
const DEFAULT_WAIT_SECONDS = 120;

/** Editor fields a filter comes from when msg.payload does not set it: the engine's field -> the label's key. */
const EDITOR_FIELDS: Record<string, string> = {
  subjectType: 'subjectType',
  'dateRange.dateType': 'dateType',
  'dateRange.from': 'daysBack',
};

/**
 * Invoices in KSeF (pobieranie-faktur.md of CIRFMF/ksef-docs): search their metadata, get one invoice's XML by KSeF
 * number, or download many through an export (XML and metadata). The filters come from the node and msg.payload.
 */
export default function registerKsefInvoice(RED: NodeAPI): void {
  registerOperationNode<KsefInvoiceDef>(RED, 'ksef-invoice', {
    search: {
      running: 'searching',
      run: async ({ msg, def, client, send }) => {
        const filters = filtersOf(msg, def);
        const found: InvoiceMetadata[] = [];
        let count = 0;
        try {
          for await (const metadata of client().invoices.query(filters)) {
            if (def.output === 'array') found.push(metadata);
            else send(metadata);
            count += 1;
          }
        } catch (err) {
          throw withFieldName(err, msg);
        }
        return def.output === 'array' ? { payload: found, status: 'found', count } : { status: 'found', count };
      },
    },
    get: {
      running: 'downloading',
      run: async ({ msg, client, send, node }) => {
        const ksefNumber = identifierFrom(msg, 'ksefNumber', ['ksefNumber']);
        if (!ksefNumber) throw new NodeInputError(RED._('ksef-invoice.errors.missing-ksef-number'));
        const { xml, sha256 } = await client().invoices.get(ksefNumber);
        const invoice = friendlyJsonOf(ksefNumber, xml, jsonWarning(node));
        send(xml.toString('utf8'), { invoice, ksef: { ksefNumber, sha256 } });
        return { status: 'downloaded', count: 1 };
      },
    },
    download: {
      running: 'exporting',
      run: async ({ msg, def, client, send, node }) => {
        const filters = filtersOf(msg, def);
        const exported = await client()
          .invoices.export(filters, { maxWaitMs: waitSecondsOf(def) * 1000 })
          .catch((err: unknown) => {
            throw withFieldName(err, msg);
          });
        const { referenceNumber, package: summary } = exported;
        if (summary.isTruncated) {
          const last = {
            Issue: summary.lastIssueDate,
            Invoicing: summary.lastInvoicingDate,
            PermanentStorage: summary.lastPermanentStorageDate,
          };
          node.warn(
            RED._('ksef-invoice.warnings.truncated', { count: summary.invoiceCount, last: last[filters.dateRange.dateType] ?? '' }),
          );
        }
        const ksef = { referenceNumber, package: summary };
        const options = { includeXml: true, includeJson: def.includeJson === true, onJsonError: jsonWarning(node) };
        const invoices: InvoiceOutput[] = [];
        let count = 0;
        for await (const invoice of exported.invoices()) {
          const output = invoiceOutput(invoice, options);
          if (def.output === 'array') invoices.push(output);
          else send(output, { ksef });
          count += 1;
        }
        if (def.output === 'array') send(invoices, { ksef });
        return { status: 'downloaded', count };
      },
    },
  });

  function jsonWarning(node: Node): (ksefNumber: string, reason: string) => void {
    return (ksefNumber, reason) => node.warn(RED._('ksef-invoice.warnings.no-json', { ksefNumber, reason }));
  }

  /**
   * The node's filters, with those of msg.payload (an object) over them. The range starts at the beginning of the day
   * 'Days back' days ago and stays open (KSeF's now), so the same settings on the same day make the same request: a
   * download that outlasted its wait is then resumed by the next message instead of started again.
   */
  function filtersOf(msg: NodeMessage, def: KsefInvoiceDef): InvoiceQueryFilters {
    const days = Number(def.daysBack ?? DEFAULT_DAYS_BACK);
    if (!Number.isInteger(days) || days < 1 || days > 3650) {
      throw new NodeInputError(RED._('ksef-invoice.errors.bad-days-back', { value: String(def.daysBack ?? '') }));
    }
    const today = new Date();
    const fromNode: InvoiceQueryFilters = {
      subjectType: def.subjectType || 'Subject2',
      dateRange: { dateType: def.dateType || 'Issue', from: new Date(today.getFullYear(), today.getMonth(), today.getDate() - days) },
    };
    const fromMessage = payloadFilters(msg);
    if (!fromMessage) return fromNode;
    return { ...fromNode, ...fromMessage, dateRange: { ...fromNode.dateRange, ...fromMessage.dateRange } };
  }

  function waitSecondsOf(def: KsefInvoiceDef): number {
    if (def.waitSeconds === undefined || def.waitSeconds === '') return DEFAULT_WAIT_SECONDS;
    const seconds = Number(def.waitSeconds);
    if (!Number.isFinite(seconds) || seconds < 1) {
      throw new NodeInputError(RED._('ksef-invoice.errors.bad-wait', { value: String(def.waitSeconds) }));
    }
    return seconds;
  }

  /**
   * The engine checks the filters before any request and names the field in its own terms: the error names it as the
   * user set it, `msg.payload.<field>` or the editor's label.
   */
  function withFieldName(err: unknown, msg: NodeMessage): unknown {
    if (!(err instanceof KsefInputError) || !err.field) return err;
    const editorField = EDITOR_FIELDS[err.field];
    const field =
      editorField && !hasPath(payloadFilters(msg), err.field) ? RED._(`ksef-invoice.label.${editorField}`) : `msg.payload.${err.field}`;
    return new NodeInputError(RED._('ksef-invoice.errors.bad-filter', { field, reason: err.message }));
  }

  function payloadFilters(msg: NodeMessage): Partial<InvoiceQueryFilters> | undefined {
    const payload = msg.payload;
    const isFilters = typeof payload === 'object' && payload !== null && !Array.isArray(payload) && !Buffer.isBuffer(payload);
    return isFilters ? (payload as Partial<InvoiceQueryFilters>) : undefined;
  }
}

function hasPath(value: unknown, path: string): boolean {
  let current = value;
  for (const part of path.split('.')) {
    if (typeof current !== 'object' || current === null || !(part in current)) return false;
    current = (current as Record<string, unknown>)[part];
  }
  return true;
}
