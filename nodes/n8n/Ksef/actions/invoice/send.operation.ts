import * as fs from 'node:fs';
import * as path from 'node:path';
import type { IBinaryKeyData, IDataObject, IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { type NodeApiError, NodeOperationError, updateDisplayOptions } from 'n8n-workflow';
import {
  chooseSendMode,
  DEFAULT_AUTO_BATCH_THRESHOLD,
  FileStateStore,
  type BatchSendResult,
  type InvoiceInput,
  type InvoiceResult,
  type InvoiceSchema,
  type KsefClient,
  type SendInvoicesResult,
  type SendMode,
  type SendOptions,
  type SessionUpoPage,
} from '../../../../../shared';
import { binaryInput, errorItem, INCLUDE_INPUT_FIELDS_OPTION, itemLabel, withInputFields } from '../../helpers/items';
import { withStatefulKsefClient } from '../../transport/client';
import { toNodeError } from '../../transport/errors';
import {
  invoiceJson,
  invoiceLabel,
  type AnswerSource,
  outcomeOf,
  rejectionFix,
  rejectionReason,
  upoBinary,
  UPO_PROPERTIES,
} from './result';

const schemaOptions: Array<{ name: string; value: InvoiceSchema; description: string }> = [
  { name: 'FA(3)', value: 'FA(3)', description: 'Structured VAT invoice, the current schema' },
  { name: 'FA(2)', value: 'FA(2)', description: 'The previous structured VAT invoice schema' },
  { name: 'FA_RR(1)', value: 'FA_RR(1)', description: 'VAT RR invoice for purchases from flat-rate farmers' },
  { name: 'PEF(3)', value: 'PEF(3)', description: 'Peppol invoice (UBL), sent by a Peppol service provider' },
  { name: 'PEF_KOR(3)', value: 'PEF_KOR(3)', description: 'Peppol credit note (UBL), sent by a Peppol service provider' },
];

const properties: INodeProperties[] = [
  {
    displayName:
      'Sending issues legally binding invoices in the chosen environment (on Production they are final and cannot be withdrawn). The Sandbox environment is a local simulator with no legal effect.',
    name: 'legalNotice',
    type: 'notice',
    default: '',
  },
  {
    displayName: 'XML Source',
    name: 'xmlSource',
    type: 'options',
    default: 'binary',
    options: [
      { name: 'Binary File', value: 'binary', description: 'The invoice XML is a file in a binary property of the item' },
      { name: 'Text', value: 'text', description: 'The invoice XML is text, typed or mapped with an expression' },
    ],
    description: 'Where each item carries its invoice XML',
  },
  {
    displayName: 'Invoice XML (Binary Property)',
    name: 'binaryPropertyName',
    type: 'string',
    default: 'data',
    required: true,
    displayOptions: { show: { xmlSource: ['binary'] } },
    hint: "The name of the binary property that holds the invoice XML file, e.g. 'data' from Read/Write Files from Disk",
    description: "Binary property with the invoice XML, e.g. 'data' from Read/Write Files from Disk or HTTP Request",
  },
  {
    displayName: 'Invoice XML',
    name: 'xml',
    type: 'string',
    typeOptions: { rows: 8 },
    default: '',
    required: true,
    placeholder: 'e.g. {{ $json.xml }}',
    displayOptions: { show: { xmlSource: ['text'] } },
    description: 'The invoice XML text; map it from the input, e.g. {{ $json.xml }}',
  },
  {
    displayName: 'Send Mode',
    name: 'sendMode',
    type: 'options',
    default: 'online',
    options: [
      {
        name: 'Online',
        value: 'online',
        description: 'One by one in an online session, each accepted invoice with its own UPO. For a few invoices at a time.',
      },
      {
        name: 'Batch',
        value: 'batch',
        description:
          'All items as one encrypted package per batch session (up to 10,000 invoices each), uploaded in parts: for volume, e.g. closing a month. No UPO per invoice: the session UPO lists them all.',
      },
      {
        name: 'Auto',
        value: 'auto',
        description: "Online for fewer items than 'Batch From (Invoices)', batch from that many on",
      },
    ],
    description:
      'How the items of this execution go to KSeF. Every mode gives one output item per input item, in input order, with its KSeF number or its own error.',
  },
  {
    displayName: 'Batch From (Invoices)',
    name: 'autoBatchThreshold',
    type: 'number',
    typeOptions: { minValue: 1 },
    default: DEFAULT_AUTO_BATCH_THRESHOLD,
    displayOptions: { show: { sendMode: ['auto'] } },
    description: `The number of items from which Auto sends in batch sessions. The default ${DEFAULT_AUTO_BATCH_THRESHOLD}: below it an online send fits KSeF's limit of 30 invoices a minute per context; from it on a batch is faster.`,
  },
  {
    displayName:
      "A batch that stops half way (KSeF or the network down, n8n restarted) is saved in n8n's storage folder: run the same items again and it finishes, without sending any invoice twice. A batch brings no UPO per invoice: Options > Include Session UPO attaches the session's, and Invoice > Get Status reads any invoice's own.",
    name: 'batchNotice',
    type: 'notice',
    default: '',
    displayOptions: { show: { sendMode: ['batch', 'auto'] } },
  },
  {
    displayName: 'Invoice Schema',
    name: 'schema',
    type: 'options',
    default: 'FA(3)',
    options: schemaOptions,
    description:
      'The schema of the invoices. All items of one execution go to KSeF sessions with this schema (Batch takes FA(3), FA(2) and FA_RR(1); PEF goes online).',
  },
  {
    displayName: 'Wait for Processing (Seconds)',
    name: 'waitForProcessingSeconds',
    type: 'number',
    typeOptions: { minValue: 0 },
    default: 120,
    hint: "Invoices still processing come out with status 'pending': read them later with Invoice > Get Status",
    description:
      'How long to wait for KSeF to assign KSeF numbers. 0 returns right after sending: results are then pending, without KSeF numbers or UPO.',
  },
  ...UPO_PROPERTIES,
  {
    displayName: 'Batch Options',
    name: 'batchOptions',
    type: 'collection',
    placeholder: 'Add option',
    default: {},
    displayOptions: { show: { sendMode: ['batch', 'auto'] } },
    options: [
      {
        displayName: 'Package Format',
        name: 'packageFormat',
        type: 'options',
        default: 'Zip',
        options: [
          { name: 'ZIP', value: 'Zip' },
          { name: 'TAR.GZ', value: 'TarGz' },
        ],
        description: 'The archive the invoices are packed in; KSeF takes both',
      },
      {
        displayName: 'Invoices per Session',
        name: 'maxInvoicesPerSession',
        type: 'number',
        typeOptions: { minValue: 1, maxValue: 10000 },
        default: 10000,
        description: "KSeF's maximum is 10,000: more items go in several batch sessions, one after the other",
      },
      {
        displayName: 'Part Size (Bytes)',
        name: 'partSizeBytes',
        type: 'number',
        typeOptions: { minValue: 1, maxValue: 100000000 },
        default: 100000000,
        description:
          "Advanced, for tests: the largest package part before encryption. KSeF's maximum (100 MB) is best; a package may have at most 50 parts.",
      },
      {
        displayName: 'Parallel Uploads',
        name: 'uploadConcurrency',
        type: 'number',
        typeOptions: { minValue: 1, maxValue: 50 },
        default: 4,
        description: 'How many package parts are uploaded at once',
      },
    ],
  },
  {
    displayName: 'Options',
    name: 'options',
    type: 'collection',
    placeholder: 'Add option',
    default: {},
    options: [
      INCLUDE_INPUT_FIELDS_OPTION,
      {
        displayName: 'Offline Mode',
        name: 'offlineMode',
        type: 'boolean',
        default: false,
        description:
          'Whether the invoice was issued in offline mode (e.g. during a KSeF outage) and is sent afterwards. Can differ per item.',
      },
      {
        displayName: 'Include Session UPO',
        name: 'includeSessionUpo',
        type: 'boolean',
        default: false,
        description:
          "Whether to also attach the session's collective UPO to each accepted item, as binary property 'sessionUpo' (further pages: 'sessionUpo_2', ...)",
      },
    ],
  },
];

const displayOptions = { show: { resource: ['invoice'], operation: ['send'] } };

export const description = updateDisplayOptions(displayOptions, properties);

interface SendParameters {
  /** Without `fetchUpo`, which depends on the path the invoices take. */
  sendOptions: SendOptions;
  downloadUpo: boolean;
  upoBinaryPropertyName?: string;
  includeSessionUpo: boolean;
}

/** Session-wide settings come from the first item: all items go to KSeF together. */
function readSendParameters(this: IExecuteFunctions): SendParameters {
  const downloadUpo = this.getNodeParameter('downloadUpo', 0, true) as boolean;
  const includeSessionUpo = this.getNodeParameter('options.includeSessionUpo', 0, false) as boolean;
  const mode = this.getNodeParameter('sendMode', 0, 'online') as SendMode;
  const batch = this.getNodeParameter('batchOptions', 0, {}) as {
    packageFormat?: 'Zip' | 'TarGz';
    maxInvoicesPerSession?: number;
    partSizeBytes?: number;
    uploadConcurrency?: number;
  };
  return {
    sendOptions: {
      mode,
      schema: this.getNodeParameter('schema', 0, 'FA(3)') as InvoiceSchema,
      waitForProcessingMs: (this.getNodeParameter('waitForProcessingSeconds', 0, 120) as number) * 1000,
      ...(mode === 'auto' && {
        autoBatchThreshold: this.getNodeParameter('autoBatchThreshold', 0, DEFAULT_AUTO_BATCH_THRESHOLD) as number,
      }),
      ...(mode !== 'online' && {
        compressionType: batch.packageFormat,
        maxInvoicesPerSession: batch.maxInvoicesPerSession,
        partSizeBytes: batch.partSizeBytes,
        uploadConcurrency: batch.uploadConcurrency,
      }),
    },
    downloadUpo,
    upoBinaryPropertyName: downloadUpo ? (this.getNodeParameter('upoBinaryPropertyName', 0, 'upo') as string) : undefined,
    includeSessionUpo,
  };
}

/** One store per folder in the process, so its queued writes keep their order across executions. */
const batchStateStores = new Map<string, FileStateStore>();

/**
 * Where an unfinished batch is kept (sealed session key, upload URLs, parts done): a folder in n8n's storage
 * folder, written as each step completes. Not the workflow's static data: n8n saves that only when an execution
 * ends, so a killed or restarted n8n would lose exactly the batches that need resuming. The engine keys each batch
 * by its invoices and removes it once their results are out.
 */
function batchStateStore(this: IExecuteFunctions): FileStateStore {
  const folder = path.join(this.helpers.getStoragePath(), 'batch-sessions');
  let store = batchStateStores.get(folder);
  if (!store) {
    store = new FileStateStore(folder);
    batchStateStores.set(folder, store);
  }
  return store;
}

/**
 * The file behind a binary data id of n8n's filesystem mode, or undefined for any other mode or when it is not there.
 * An id is `<mode>:<fileId>` (n8n-core's BinaryDataService); `filesystem-v2` (and the legacy `filesystem`) store
 * `fileId` under n8n's storage folder and `getBinaryPath` gives its absolute path. Other modes give no local file
 * (`s3`, `azure`: the object key; `database`: `database://...`), so they are read through n8n's stream.
 */
function storedFile(this: IExecuteFunctions, binaryDataId: string): { path: string; size: number } | undefined {
  const mode = binaryDataId.slice(0, binaryDataId.indexOf(':'));
  if ((mode !== 'filesystem-v2' && mode !== 'filesystem') || typeof this.helpers.getBinaryPath !== 'function') return undefined;
  try {
    const filePath = this.helpers.getBinaryPath(binaryDataId);
    if (!path.isAbsolute(filePath)) return undefined;
    const stat = fs.statSync(filePath, { throwIfNoEntry: false });
    return stat?.isFile() ? { path: filePath, size: stat.size } : undefined;
  } catch {
    return undefined;
  }
}

async function readInvoice(this: IExecuteFunctions, items: INodeExecutionData[], i: number): Promise<InvoiceInput> {
  const offlineMode = this.getNodeParameter('options.offlineMode', i, false) as boolean;
  if (this.getNodeParameter('xmlSource', i) === 'text') {
    const xml = this.getNodeParameter('xml', i, '') as string;
    if (!xml.trim()) {
      throw new NodeOperationError(this.getNode(), `Map the invoice XML text into 'Invoice XML': it is empty in ${itemLabel(i)}`, {
        itemIndex: i,
        description: "E.g. {{ $json.xml }}; or set 'XML Source' to 'Binary File' if the item carries an XML file.",
      });
    }
    return { xml, offlineMode };
  }
  const binaryPropertyName = this.getNodeParameter('binaryPropertyName', i) as string;
  const storedId = items[i].binary?.[binaryPropertyName]?.id;
  if (storedId) {
    // n8n keeps the file in its binary data store (filesystem, S3, database): read when it is packed, so a batch
    // of thousands holds one invoice in memory at a time. Filesystem mode: the engine reads the file in one synchronous
    // call; each step of a stream (or of n8n's metadata read) is a thread-pool round trip, seconds per 10,000 invoices.
    const file = storedFile.call(this, storedId);
    const fileSize = file ? file.size : (await this.helpers.getBinaryMetadata(storedId)).fileSize;
    if (fileSize === 0) {
      throw new NodeOperationError(
        this.getNode(),
        `Point 'Invoice XML (Binary Property)' at a file with the invoice XML: '${binaryPropertyName}' of ${itemLabel(i)} is empty`,
        { itemIndex: i },
      );
    }
    if (file) return { path: file.path, offlineMode };
    return { open: async () => await this.helpers.getBinaryStream(storedId), size: fileSize, offlineMode };
  }
  const xml = await binaryInput.call(this, items, i, binaryPropertyName, 'the invoice XML', {
    field: 'Invoice XML (Binary Property)',
    alternative: "Or set 'XML Source' to 'Text' and map the XML into 'Invoice XML'.",
  });
  return { xml, offlineMode };
}

/** Each session's UPO pages as binary properties, prepared once and shared by the session's accepted items. */
async function sessionUpoBinaries(
  this: IExecuteFunctions,
  result: SendInvoicesResult | BatchSendResult,
): Promise<Map<string, IBinaryKeyData>> {
  const sessions: Array<{ sessionReferenceNumber: string; sessionUpo?: SessionUpoPage[] }> =
    result.mode === 'batch' ? result.sessions : [result];
  const bySession = new Map<string, IBinaryKeyData>();
  for (const { sessionReferenceNumber, sessionUpo } of sessions) {
    bySession.set(sessionReferenceNumber, await upoPageBinaries.call(this, sessionUpo ?? []));
  }
  return bySession;
}

async function upoPageBinaries(this: IExecuteFunctions, pages: SessionUpoPage[]): Promise<IBinaryKeyData> {
  const binary: IBinaryKeyData = {};
  for (const [page, sessionUpo] of pages.entries()) {
    binary[page === 0 ? 'sessionUpo' : `sessionUpo_${page + 1}`] = await this.helpers.prepareBinaryData(
      Buffer.from(sessionUpo.upo, 'utf8'),
      `UPO-${sessionUpo.referenceNumber}.xml`,
      'application/xml',
    );
  }
  return binary;
}

function isFailed(invoice: InvoiceResult): boolean {
  return !invoice.accepted && !invoice.pending;
}

interface SentInvoice {
  itemIndex: number;
  invoice: InvoiceResult;
  /**
   * Where Get Status finds the invoice: its own session when KSeF made the first one unavailable (21184) and the
   * engine carried on in a new session after this invoice had gone out, otherwise the result's session.
   */
  source: AnswerSource;
}

/**
 * The error that stops the workflow when an invoice failed and On Error is 'Stop Workflow'. The node's output is
 * lost then, so the description lists what is already in KSeF (never to be sent again) and how to read it back.
 * `sessionReferenceNumber` is the one session of the send, or '' when a batch took several (each invoice then
 * names its own).
 */
function stopError(
  this: IExecuteFunctions,
  failed: SentInvoice[],
  sent: SentInvoice[],
  sessionReferenceNumber: string,
): NodeOperationError {
  const [first, ...others] = failed;
  const inKsef = sent.filter(({ invoice }) => invoice.accepted);
  const pending = sent.filter(({ invoice }) => invoice.pending);
  const line = ({ itemIndex, invoice, source }: SentInvoice, reference: string | undefined) =>
    `- ${invoiceLabel(invoice.invoiceNumber, itemIndex)}: ${reference}` +
    (source.sessionReferenceNumber === sessionReferenceNumber ? '' : ` (in session ${source.sessionReferenceNumber})`);
  const elsewhere = [...inKsef, ...pending].some(({ source }) => source.sessionReferenceNumber !== sessionReferenceNumber);
  const description = [
    rejectionFix(first.invoice),
    ...(others.length > 0
      ? [`Not accepted either: ${others.map(({ invoice, itemIndex }) => invoiceLabel(invoice.invoiceNumber, itemIndex)).join(', ')}.`]
      : []),
    ...(inKsef.length > 0
      ? [
          'Already in KSeF (legally issued; do not send them again), with their KSeF numbers:',
          ...inKsef.map((entry) => line(entry, entry.invoice.ksefNumber)),
        ]
      : ['No invoice of this execution was accepted.']),
    ...(pending.length > 0
      ? [
          'Sent and still being processed by KSeF (do not send them again), with their invoice reference numbers:',
          ...pending.map((entry) => line(entry, entry.invoice.referenceNumber)),
        ]
      : []),
    ...(inKsef.length + pending.length > 0
      ? [
          sessionReferenceNumber
            ? `To get their results and UPOs: Invoice > Get Status with Session Reference Number ${sessionReferenceNumber}${elsewhere ? ' (or the session named beside the invoice)' : ''} and each KSeF number (or invoice reference number).`
            : 'To get their results and UPOs: Invoice > Get Status with the session named beside each invoice and its KSeF number (or invoice reference number).',
        ]
      : []),
    "To get one result per invoice instead of stopping, set the node's Settings > On Error to 'Continue (using error output)': failed invoices then go to the error output.",
  ].join('\n');
  return new NodeOperationError(this.getNode(), rejectionReason(first.invoice, first.itemIndex), {
    itemIndex: first.itemIndex,
    description,
  });
}

/** A batch that failed half way is kept (`batchStateStore`): the error says how to finish it. */
function withResumeAdvice<E extends NodeApiError | NodeOperationError>(error: E, mode: 'online' | 'batch' | undefined): E {
  if (mode === 'batch') {
    error.description = [
      error.description,
      'What this batch did so far is saved: run the same items again (same order, same options) to finish it; no invoice is sent twice.',
    ]
      .filter(Boolean)
      .join(' ');
  }
  return error;
}

/** The one session of a send, or '' when a batch took several. */
function soleSession(result: SendInvoicesResult | BatchSendResult): string {
  if (result.mode === 'online') return result.sessionReferenceNumber;
  return result.sessions.length === 1 ? result.sessions[0].sessionReferenceNumber : '';
}

/**
 * Sends every item's invoice in the chosen mode (online session, batch sessions, or Auto by the number of items);
 * one output item per input item, in input order.
 */
export async function execute(this: IExecuteFunctions, items: INodeExecutionData[]): Promise<INodeExecutionData[]> {
  const parameters = readSendParameters.call(this);
  const output: INodeExecutionData[] = new Array(items.length);
  const toSend: Array<{ itemIndex: number; invoice: InvoiceInput }> = [];

  for (let i = 0; i < items.length; i++) {
    try {
      toSend.push({ itemIndex: i, invoice: await readInvoice.call(this, items, i) });
    } catch (error) {
      const nodeError = toNodeError(this.getNode(), error, i);
      if (!this.continueOnFail()) throw nodeError;
      output[i] = errorItem.call(this, items, nodeError, i, { status: 'notSent', accepted: false, pending: false });
    }
  }
  if (toSend.length === 0) return output;

  let result: SendInvoicesResult | BatchSendResult;
  let chosenMode: 'online' | 'batch' | undefined;
  try {
    const invoices = toSend.map(({ invoice }) => invoice);
    chosenMode = chooseSendMode(invoices, parameters.sendOptions);
    // Online fetches each invoice's UPO; a batch has only the session UPO pages.
    const fetchUpo = chosenMode === 'batch' ? parameters.includeSessionUpo : parameters.downloadUpo;
    result = (await withStatefulKsefClient.call(
      this,
      batchStateStore.call(this),
      async (client: KsefClient) => await client.sessions.send(invoices, { ...parameters.sendOptions, mode: chosenMode, fetchUpo }),
    )) as SendInvoicesResult | BatchSendResult;
  } catch (error) {
    // Nothing per invoice came back (e.g. authentication failed): every item shares the error.
    const sendError = (itemIndex: number) => withResumeAdvice(toNodeError(this.getNode(), error, itemIndex), chosenMode);
    if (!this.continueOnFail()) throw sendError(toSend[0].itemIndex);
    for (const { itemIndex } of toSend) output[itemIndex] = errorItem.call(this, items, sendError(itemIndex), itemIndex);
    return output;
  }

  const sessionUpo = parameters.includeSessionUpo ? await sessionUpoBinaries.call(this, result) : new Map<string, IBinaryKeyData>();
  const sessionReferenceNumber = soleSession(result);
  const { environment, mode } = result;
  const sent: SentInvoice[] = result.invoices.map((invoice) => ({
    itemIndex: toSend[invoice.index].itemIndex,
    invoice,
    source: { sessionReferenceNumber: invoice.sessionReferenceNumber ?? sessionReferenceNumber, environment },
  }));
  const failed = sent.filter(({ invoice }) => isFailed(invoice));
  if (failed.length > 0 && !this.continueOnFail()) throw stopError.call(this, failed, sent, sessionReferenceNumber);

  for (const { itemIndex, invoice, source } of sent) {
    if (isFailed(invoice)) {
      const error = new NodeOperationError(this.getNode(), rejectionReason(invoice, itemIndex), {
        itemIndex,
        description: rejectionFix(invoice),
      });
      output[itemIndex] = errorItem.call(this, items, error, itemIndex, {
        ...sentJson(invoice, source, mode),
        ...(invoice.error && { errorDetails: invoice.error as IDataObject }),
      });
      continue;
    }
    const binary = {
      ...(await upoBinary.call(this, invoice.upo, invoice.ksefNumber, parameters.upoBinaryPropertyName)),
      ...(outcomeOf(invoice) === 'accepted' ? sessionUpo.get(source.sessionReferenceNumber ?? '') : {}),
    };
    output[itemIndex] = {
      json: withInputFields.call(this, items, itemIndex, sentJson(invoice, source, mode)),
      ...(Object.keys(binary).length > 0 && { binary }),
      pairedItem: { item: itemIndex },
    };
  }
  return output;
}

/** The invoice's result, the path it took (Auto decides per execution) and, in a batch, its place in the package. */
function sentJson(invoice: InvoiceResult, source: AnswerSource, mode: 'online' | 'batch'): IDataObject {
  return {
    ...invoiceJson(invoice, source),
    sendMode: mode,
    ...(invoice.ordinalNumber !== undefined && { ordinalNumber: invoice.ordinalNumber }),
    ...(invoice.fileName !== undefined && { packageFileName: invoice.fileName }),
  };
}
