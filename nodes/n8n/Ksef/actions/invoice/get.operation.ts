import type { IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { NodeOperationError, updateDisplayOptions } from 'n8n-workflow';
import { executeForEachItem, INCLUDE_INPUT_FIELDS_OPTION, itemLabel, withInputFields } from '../../helpers/items';
import { friendlyInvoiceJson, invoiceXmlBinary } from '../../helpers/invoices';
import { getKsefClient } from '../../transport/client';

const properties: INodeProperties[] = [
  {
    displayName: 'KSeF Number',
    name: 'ksefNumber',
    type: 'string',
    default: '={{ $json.ksefNumber }}',
    required: true,
    placeholder: 'e.g. 5265877635-20250826-0100001AF629-AF',
    description: "The invoice's KSeF number, e.g. from Search's output",
  },
  {
    displayName: 'Options',
    name: 'options',
    type: 'collection',
    placeholder: 'Add option',
    default: {},
    options: [
      {
        displayName: 'Include Friendly JSON',
        name: 'includeFriendlyJson',
        type: 'boolean',
        default: true,
        description:
          "Whether to add the invoice's content as JSON in 'invoice' (seller, buyer, lines, VAT summary, totals, payment), read from the XML",
      },
      INCLUDE_INPUT_FIELDS_OPTION,
    ],
  },
];

const displayOptions = { show: { resource: ['invoice'], operation: ['get'] } };

export const description = updateDisplayOptions(displayOptions, properties);

const FIELD_LABELS = { ksefNumber: 'KSeF Number' };

/** Each item's invoice by KSeF number: the original XML as binary `data` and, by default, its content as JSON. */
export async function execute(this: IExecuteFunctions, items: INodeExecutionData[]): Promise<INodeExecutionData[]> {
  return await executeForEachItem.call(
    this,
    items,
    async (i) => {
      const ksefNumber = String(this.getNodeParameter('ksefNumber', i, '') ?? '').trim();
      if (!ksefNumber) {
        throw new NodeOperationError(this.getNode(), `Set 'KSeF Number': it is empty in ${itemLabel(i)}`, {
          itemIndex: i,
          description: "Map it from Search's output, e.g. {{ $json.ksefNumber }}.",
        });
      }
      const includeFriendlyJson = this.getNodeParameter('options.includeFriendlyJson', i, true) as boolean;
      const client = await getKsefClient.call(this);
      const invoice = await client.invoices.get(ksefNumber);
      return {
        json: withInputFields.call(this, items, i, {
          ksefNumber: invoice.ksefNumber,
          sha256: invoice.sha256,
          ...(includeFriendlyJson && friendlyInvoiceJson(invoice.xml)),
        }),
        binary: await invoiceXmlBinary(this.helpers, invoice.ksefNumber, invoice.xml),
      };
    },
    FIELD_LABELS,
  );
}
