import type { IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { NodeOperationError, updateDisplayOptions } from 'n8n-workflow';
import { errorItem, executeForEachItem, INCLUDE_INPUT_FIELDS_OPTION, itemLabel, withInputFields } from '../../helpers/items';
import { getKsefClient } from '../../transport/client';
import { invoiceJson, outcomeOf, rejectionFix, rejectionReason, upoBinary, UPO_PROPERTIES } from './result';

const properties: INodeProperties[] = [
  {
    displayName:
      "Reads invoices sent earlier, e.g. those Send returned with status 'pending' or listed in a stopped workflow's error. It sends nothing.",
    name: 'getStatusNotice',
    type: 'notice',
    default: '',
  },
  {
    displayName: 'Session Reference Number',
    name: 'sessionReferenceNumber',
    type: 'string',
    default: '={{ $json.sessionReferenceNumber }}',
    required: true,
    placeholder: 'e.g. 20250625-SO-2C3E6C8000-B675CF5D68-07',
    description: "The KSeF session the invoice was sent in: 'sessionReferenceNumber' of Send's output",
  },
  {
    displayName: 'Find Invoice By',
    name: 'findBy',
    type: 'options',
    default: 'referenceNumber',
    options: [
      {
        name: 'Invoice Reference Number',
        value: 'referenceNumber',
        description: "The 'referenceNumber' KSeF gave the invoice when it was sent; works while it is still processing",
      },
      { name: 'KSeF Number', value: 'ksefNumber', description: 'The KSeF number of an accepted invoice' },
    ],
    description: 'How to identify the invoice within the session',
  },
  {
    displayName: 'Invoice Reference Number',
    name: 'invoiceReferenceNumber',
    type: 'string',
    default: '={{ $json.referenceNumber }}',
    required: true,
    placeholder: 'e.g. 20250625-EE-319D7EE000-B67F415CDC-2C',
    displayOptions: { show: { findBy: ['referenceNumber'] } },
    description: "The invoice's 'referenceNumber' from Send's output",
  },
  {
    displayName: 'KSeF Number',
    name: 'ksefNumber',
    type: 'string',
    default: '={{ $json.ksefNumber }}',
    required: true,
    placeholder: 'e.g. 5265877635-20250826-0100001AF629-AF',
    displayOptions: { show: { findBy: ['ksefNumber'] } },
    description: "The invoice's KSeF number, e.g. from Send's output or from the error message of a stopped workflow",
  },
  ...UPO_PROPERTIES,
  {
    displayName: 'Options',
    name: 'options',
    type: 'collection',
    placeholder: 'Add option',
    default: {},
    options: [INCLUDE_INPUT_FIELDS_OPTION],
  },
];

const displayOptions = { show: { resource: ['invoice'], operation: ['getStatus'] } };

export const description = updateDisplayOptions(displayOptions, properties);

/** The engine's names of this operation's fields, as the editor labels them. */
const FIELD_LABELS = {
  sessionReferenceNumber: 'Session Reference Number',
  invoiceReferenceNumber: 'Invoice Reference Number',
  ksefNumber: 'KSeF Number',
};

function requiredText(this: IExecuteFunctions, name: keyof typeof FIELD_LABELS, i: number): string {
  const value = String(this.getNodeParameter(name, i, '') ?? '').trim();
  if (!value) {
    throw new NodeOperationError(this.getNode(), `Set '${FIELD_LABELS[name]}': it is empty in ${itemLabel(i)}`, {
      itemIndex: i,
      description: `Map it from Send's output, e.g. {{ $json.${name === 'invoiceReferenceNumber' ? 'referenceNumber' : name} }}.`,
    });
  }
  return value;
}

/**
 * Reads each item's invoice status (and UPO) from KSeF; the output is Send's. A rejected invoice is an error item,
 * as in Send, so it goes to the error output.
 */
export async function execute(this: IExecuteFunctions, items: INodeExecutionData[]): Promise<INodeExecutionData[]> {
  return await executeForEachItem.call(
    this,
    items,
    async (i) => {
      const sessionReferenceNumber = requiredText.call(this, 'sessionReferenceNumber', i);
      const byKsefNumber = this.getNodeParameter('findBy', i) === 'ksefNumber';
      const downloadUpo = this.getNodeParameter('downloadUpo', i, true) as boolean;
      const client = await getKsefClient.call(this);
      const invoice = await client.sessions.invoiceStatus({
        sessionReferenceNumber,
        ...(byKsefNumber
          ? { ksefNumber: requiredText.call(this, 'ksefNumber', i) }
          : { invoiceReferenceNumber: requiredText.call(this, 'invoiceReferenceNumber', i) }),
        fetchUpo: downloadUpo,
      });
      if (outcomeOf(invoice) === 'rejected') {
        const error = new NodeOperationError(this.getNode(), rejectionReason(invoice, i), {
          itemIndex: i,
          description: rejectionFix(invoice),
        });
        if (!this.continueOnFail()) throw error;
        return errorItem.call(this, items, error, i, invoiceJson(invoice, invoice));
      }
      const upoProperty = downloadUpo ? (this.getNodeParameter('upoBinaryPropertyName', i, 'upo') as string) : undefined;
      const binary = await upoBinary.call(this, invoice.upo, invoice.ksefNumber, upoProperty);
      return {
        json: withInputFields.call(this, items, i, invoiceJson(invoice, invoice)),
        ...(Object.keys(binary).length > 0 && { binary }),
      };
    },
    FIELD_LABELS,
  );
}
