import type { IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { updateDisplayOptions } from 'n8n-workflow';
import type { InvoiceMetadata } from '../../../../../shared';
import { collectList, executeForEachItem, returnAllOrLimit } from '../../helpers/items';
import { invoiceMetadataJson } from '../../helpers/invoices';
import { getKsefClient } from '../../transport/client';
import { FILTER_FIELD_LABELS, FILTER_PROPERTIES, filtersFromParameters } from './filters';

/** KSeF's page size range for the metadata query. */
const MIN_PAGE_SIZE = 10;
const MAX_PAGE_SIZE = 250;

const properties: INodeProperties[] = [
  ...FILTER_PROPERTIES,
  ...returnAllOrLimit(10_000),
  {
    displayName: 'Options',
    name: 'options',
    type: 'collection',
    placeholder: 'Add option',
    default: {},
    options: [
      {
        displayName: 'Sort',
        name: 'sortOrder',
        type: 'options',
        default: 'Asc',
        options: [
          { name: 'Oldest First', value: 'Asc' },
          { name: 'Newest First', value: 'Desc' },
        ],
        description: "Order by the date 'Date Type' names",
      },
    ],
  },
];

const displayOptions = { show: { resource: ['invoice'], operation: ['search'] } };

export const description = updateDisplayOptions(displayOptions, properties);

/** One output item per invoice found: its KSeF metadata as one flat record. */
export async function execute(this: IExecuteFunctions, items: INodeExecutionData[]): Promise<INodeExecutionData[]> {
  return await executeForEachItem.call(
    this,
    items,
    async (i) => {
      const filters = filtersFromParameters.call(this, i);
      const returnAll = this.getNodeParameter('returnAll', i, false) as boolean;
      const limit = returnAll ? MAX_PAGE_SIZE : (this.getNodeParameter('limit', i, 50) as number);
      const sortOrder = this.getNodeParameter('options.sortOrder', i, 'Asc') as 'Asc' | 'Desc';
      const client = await getKsefClient.call(this);
      const pageSize = Math.min(MAX_PAGE_SIZE, Math.max(MIN_PAGE_SIZE, limit));
      const found = (await collectList.call(this, client.invoices.query(filters, { sortOrder, pageSize }), i)) as InvoiceMetadata[];
      return found.map((metadata) => ({ json: invoiceMetadataJson(metadata) }));
    },
    FILTER_FIELD_LABELS,
  );
}
