import type {
  IBinaryKeyData,
  IDataObject,
  IExecuteFunctions,
  INodeExecutionData,
  INodeProperties,
} from 'n8n-workflow';
import { NodeOperationError, updateDisplayOptions } from 'n8n-workflow';
import type { InvoiceSchema } from '../../../../../shared/model/formCodes';
import type { InvoiceInput, InvoiceResult, SendInvoicesOptions, SendInvoicesResult } from '../../../../../shared/types';
import { binaryInput } from '../../helpers/items';
import { getKsefClient } from '../../transport/client';
import { describeError, toNodeError } from '../../transport/errors';

const schemaOptions: Array<{ name: string; value: InvoiceSchema; description: string }> = [
  { name: 'FA(3)', value: 'FA(3)', description: 'Structured VAT invoice, the current schema' },
  { name: 'FA(2)', value: 'FA(2)', description: 'The previous structured VAT invoice schema' },
  { name: 'FA_RR(1)', value: 'FA_RR(1)', description: 'VAT RR invoice for purchases from flat-rate farmers' },
  { name: 'PEF(3)', value: 'PEF(3)', description: 'Peppol invoice (UBL), sent by a Peppol service provider' },
  { name: 'PEF_KOR(3)', value: 'PEF_KOR(3)', description: 'Peppol credit note (UBL), sent by a Peppol service provider' },
];

const properties: INodeProperties[] = [
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
    displayName: 'Input Binary Field',
    name: 'binaryPropertyName',
    type: 'string',
    default: 'data',
    required: true,
    displayOptions: { show: { xmlSource: ['binary'] } },
    hint: 'The name of the binary property that holds the invoice XML file',
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
    displayName: 'Invoice Schema',
    name: 'schema',
    type: 'options',
    default: 'FA(3)',
    options: schemaOptions,
    description: 'The schema of the invoices. All items of one execution go to one KSeF session with this schema.',
  },
  {
    displayName: 'Wait for Processing (Seconds)',
    name: 'waitForProcessingSeconds',
    type: 'number',
    typeOptions: { minValue: 0 },
    default: 120,
    description:
      'How long to wait for KSeF to assign KSeF numbers. 0 returns right after sending: results are then pending, without KSeF numbers or UPO.',
  },
  {
    displayName: 'Download UPO',
    name: 'downloadUpo',
    type: 'boolean',
    default: true,
    description: 'Whether to attach the official receipt (UPO XML) of each accepted invoice as binary data',
  },
  {
    displayName: 'Put UPO in Field',
    name: 'upoBinaryPropertyName',
    type: 'string',
    default: 'upo',
    required: true,
    displayOptions: { show: { downloadUpo: [true] } },
    description: 'Name of the output binary property that receives the UPO XML',
  },
  {
    displayName: 'Options',
    name: 'options',
    type: 'collection',
    placeholder: 'Add option',
    default: {},
    options: [
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
  sendOptions: SendInvoicesOptions;
  upoBinaryPropertyName?: string;
  includeSessionUpo: boolean;
}

/** Session-wide settings come from the first item: all items share one KSeF session. */
function readSendParameters(this: IExecuteFunctions): SendParameters {
  const downloadUpo = this.getNodeParameter('downloadUpo', 0, true) as boolean;
  return {
    sendOptions: {
      schema: this.getNodeParameter('schema', 0, 'FA(3)') as InvoiceSchema,
      waitForProcessingMs: (this.getNodeParameter('waitForProcessingSeconds', 0, 120) as number) * 1000,
      fetchUpo: downloadUpo,
    },
    upoBinaryPropertyName: downloadUpo ? (this.getNodeParameter('upoBinaryPropertyName', 0, 'upo') as string) : undefined,
    includeSessionUpo: this.getNodeParameter('options.includeSessionUpo', 0, false) as boolean,
  };
}

async function readInvoice(this: IExecuteFunctions, items: INodeExecutionData[], i: number): Promise<InvoiceInput> {
  const offlineMode = this.getNodeParameter('options.offlineMode', i, false) as boolean;
  if (this.getNodeParameter('xmlSource', i) === 'text') {
    const xml = this.getNodeParameter('xml', i, '') as string;
    if (!xml.trim()) {
      throw new NodeOperationError(this.getNode(), `'Invoice XML' is empty in item ${i}`, {
        itemIndex: i,
        description:
          "Map the invoice XML text into 'Invoice XML' (e.g. {{ $json.xml }}), or set 'XML Source' to 'Binary File' if the item carries an XML file.",
      });
    }
    return { xml, offlineMode };
  }
  const binaryPropertyName = this.getNodeParameter('binaryPropertyName', i) as string;
  const xml = await binaryInput.call(this, items, i, binaryPropertyName, 'the invoice XML', ", or set 'XML Source' to 'Text' and map the XML into 'Invoice XML'");
  return { xml, offlineMode };
}

function resultJson(invoice: InvoiceResult, sessionReferenceNumber: string): IDataObject {
  // The UPO travels as binary data and the engine's index is replaced by the item pairing.
  const { index, upo, error, ...fields } = invoice;
  // No session is opened when every invoice failed the local checks.
  return { ...fields, ...(sessionReferenceNumber && { sessionReferenceNumber }) } as IDataObject;
}

function isRejected(invoice: InvoiceResult): boolean {
  return !invoice.accepted && !invoice.pending;
}

/**
 * Why an invoice was not accepted, naming it by its item: the engine names invoices by their position in the
 * send call (`invoices[k]`), which differs from the item index when earlier items were not sent.
 */
function rejectionReason(invoice: InvoiceResult, itemIndex: number): string {
  const itemName = `the invoice of item ${itemIndex}`;
  const engineName = `invoices[${invoice.index}]`;
  const message = typeof invoice.error?.message === 'string' ? invoice.error.message : undefined;
  let reason: string;
  if (message?.includes(engineName)) reason = message.split(engineName).join(itemName);
  else if (message) reason = `${itemName} was not accepted: ${message}`;
  else if (invoice.status) reason = `${itemName} was not accepted: KSeF status ${invoice.status.code} ${invoice.status.description}`;
  else reason = `${itemName} was not accepted and KSeF gave no reason`;
  return reason.charAt(0).toUpperCase() + reason.slice(1);
}

async function upoBinaries(
  this: IExecuteFunctions,
  invoice: InvoiceResult,
  result: SendInvoicesResult,
  parameters: SendParameters,
): Promise<IBinaryKeyData> {
  const binary: IBinaryKeyData = {};
  if (parameters.upoBinaryPropertyName && invoice.upo) {
    binary[parameters.upoBinaryPropertyName] = await this.helpers.prepareBinaryData(
      Buffer.from(invoice.upo, 'utf8'),
      `UPO-${invoice.ksefNumber}.xml`,
      'application/xml',
    );
  }
  if (parameters.includeSessionUpo && invoice.accepted) {
    for (const [page, sessionUpo] of (result.sessionUpo ?? []).entries()) {
      binary[page === 0 ? 'sessionUpo' : `sessionUpo_${page + 1}`] = await this.helpers.prepareBinaryData(
        Buffer.from(sessionUpo.upo, 'utf8'),
        `UPO-${sessionUpo.referenceNumber}.xml`,
        'application/xml',
      );
    }
  }
  return binary;
}

/** Sends every item's invoice in one online session; one output item per input item, in input order. */
export async function execute(this: IExecuteFunctions, items: INodeExecutionData[]): Promise<INodeExecutionData[]> {
  const parameters = readSendParameters.call(this);
  const output: INodeExecutionData[] = new Array(items.length);
  const toSend: Array<{ itemIndex: number; invoice: InvoiceInput }> = [];

  for (let i = 0; i < items.length; i++) {
    try {
      toSend.push({ itemIndex: i, invoice: await readInvoice.call(this, items, i) });
    } catch (error) {
      if (!this.continueOnFail()) throw error;
      const { message, description } = error as NodeOperationError;
      output[i] = { json: { error: message, ...(description && { description }) }, pairedItem: { item: i } };
    }
  }
  if (toSend.length === 0) return output;

  let result: SendInvoicesResult;
  try {
    const client = await getKsefClient.call(this);
    result = await client.sessions.online.send(
      toSend.map(({ invoice }) => invoice),
      parameters.sendOptions,
    );
  } catch (error) {
    // Nothing per invoice came back (e.g. authentication failed): every item shares the error.
    const nodeError = toNodeError(this.getNode(), error);
    if (!this.continueOnFail()) throw nodeError;
    const { description } = describeError(error, this.getNode());
    for (const { itemIndex } of toSend) {
      output[itemIndex] = { json: { error: nodeError.message, ...(description && { description }) }, pairedItem: { item: itemIndex } };
    }
    return output;
  }

  const rejected: Array<{ itemIndex: number; invoice: InvoiceResult }> = [];
  for (const invoice of result.invoices) {
    const itemIndex = toSend[invoice.index].itemIndex;
    const json = resultJson(invoice, result.sessionReferenceNumber);
    if (isRejected(invoice)) {
      rejected.push({ itemIndex, invoice });
      output[itemIndex] = {
        json: { error: rejectionReason(invoice, itemIndex), ...json, ...(invoice.error && { errorDetails: invoice.error as IDataObject }) },
        pairedItem: { item: itemIndex },
      };
      continue;
    }
    output[itemIndex] = {
      json,
      binary: await upoBinaries.call(this, invoice, result, parameters),
      pairedItem: { item: itemIndex },
    };
  }

  if (rejected.length > 0 && !this.continueOnFail()) {
    const accepted = result.invoices.filter((invoice) => invoice.accepted);
    const [first, ...otherRejected] = rejected;
    throw new NodeOperationError(
      this.getNode(),
      `${rejectionReason(first.invoice, first.itemIndex)} ` +
        (otherRejected.length > 0 ? `${otherRejected.length} more invoice(s) were not accepted either. ` : '') +
        `${accepted.length} other invoice(s) of this execution were accepted and are already in KSeF.`,
      {
        itemIndex: first.itemIndex,
        description:
          (accepted.length > 0
            ? `Do not send the accepted invoices again: ${accepted.map((invoice) => invoice.ksefNumber).join(', ')}. `
            : '') + "To get one result item per invoice instead (rejected ones with an 'error' field), set the node's Settings > On Error to 'Continue'.",
      },
    );
  }
  return output;
}
