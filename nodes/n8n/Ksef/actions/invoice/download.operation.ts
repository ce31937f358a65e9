import type { IDataObject, IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { updateDisplayOptions } from 'n8n-workflow';
import type { ExportPackageSummary, InvoiceDateType, InvoiceQueryFilters, KsefClient } from '../../../../../shared';
import { executeForEachItem } from '../../helpers/items';
import { friendlyInvoiceJson, invoiceMetadataJson, invoiceXmlBinary } from '../../helpers/invoices';
import { withStatefulKsefClient } from '../../transport/client';
import { nodeStateStore } from '../../transport/state';
import { FILTER_FIELD_LABELS, FILTER_PROPERTIES, filtersFromParameters } from './filters';

const properties: INodeProperties[] = [
  ...FILTER_PROPERTIES,
  {
    displayName: 'Options',
    name: 'options',
    type: 'collection',
    placeholder: 'Add option',
    default: {},
    options: [
      {
        displayName: 'Format',
        name: 'compressionType',
        type: 'options',
        default: 'Zip',
        options: [
          { name: 'ZIP', value: 'Zip' },
          { name: 'TAR.GZ', value: 'TarGz' },
        ],
        description: 'The package format KSeF builds; the invoices come out the same either way',
      },
      {
        displayName: 'Include Friendly JSON',
        name: 'includeFriendlyJson',
        type: 'boolean',
        default: false,
        description: "Whether to add each invoice's content as JSON in 'invoice' (seller, buyer, lines, VAT summary, totals, payment)",
      },
      {
        displayName: 'Only Metadata',
        name: 'onlyMetadata',
        type: 'boolean',
        default: false,
        description: 'Whether to skip the invoice XML files and deliver only their KSeF metadata (a smaller, faster package)',
      },
      {
        displayName: 'Wait for KSeF (Seconds)',
        name: 'maxWaitSeconds',
        type: 'number',
        default: 120,
        typeOptions: { minValue: 1 },
        description:
          'How long to wait for KSeF to build the package. A slower export is kept in the workflow and resumed by the next run with the same filters instead of being started again.',
      },
    ],
  },
];

const displayOptions = { show: { resource: ['invoice'], operation: ['download'] } };

export const description = updateDisplayOptions(displayOptions, properties);

interface DownloadOptions {
  compressionType?: 'Zip' | 'TarGz';
  includeFriendlyJson?: boolean;
  onlyMetadata?: boolean;
  maxWaitSeconds?: number;
}

/** Where a truncated package stopped, by the filter's date type: the next package starts there. */
function lastDateOf(summary: ExportPackageSummary, dateType: InvoiceDateType): string | undefined {
  if (dateType === 'Issue') return summary.lastIssueDate;
  if (dateType === 'Invoicing') return summary.lastInvoicingDate;
  return summary.lastPermanentStorageDate;
}

/**
 * Exports the invoices of item `i`'s filters and turns each into an output item as it is unpacked: its XML goes
 * straight to n8n's binary data store (with filesystem binary mode nothing accumulates in memory). A package KSeF
 * truncated (10,000 invoices or its size limit) is followed by the next one from where it stopped, as
 * pobieranie-faktur.md (CIRFMF/ksef-docs) says; invoices at the boundary are delivered once.
 */
async function download(
  this: IExecuteFunctions,
  client: KsefClient,
  filters: InvoiceQueryFilters,
  options: DownloadOptions,
): Promise<INodeExecutionData[]> {
  const output: INodeExecutionData[] = [];
  const delivered = new Set<string>();
  let window = filters;
  for (;;) {
    const invoiceExport = await client.invoices.export(window, {
      onlyMetadata: options.onlyMetadata ?? false,
      compressionType: options.compressionType ?? 'Zip',
      maxWaitMs: (options.maxWaitSeconds ?? 120) * 1000,
    });
    const deliveredBefore = delivered.size;
    for await (const { ksefNumber, metadata, xml } of invoiceExport.invoices()) {
      if (delivered.has(ksefNumber)) continue;
      delivered.add(ksefNumber);
      const json: IDataObject = {
        ...invoiceMetadataJson(metadata),
        exportReferenceNumber: invoiceExport.referenceNumber,
        ...(xml && options.includeFriendlyJson && friendlyInvoiceJson(xml)),
      };
      output.push({ json, ...(xml && { binary: await invoiceXmlBinary(this.helpers, ksefNumber, xml) }) });
    }
    const nextFrom = invoiceExport.package.isTruncated && lastDateOf(invoiceExport.package, filters.dateRange.dateType);
    // A package with nothing new would only repeat itself.
    if (!nextFrom || delivered.size === deliveredBefore) return output;
    window = { ...window, dateRange: { ...window.dateRange, from: nextFrom } };
  }
}

/** One output item per invoice of an export package: its metadata, its XML as binary `data`, optionally its JSON. */
export async function execute(this: IExecuteFunctions, items: INodeExecutionData[]): Promise<INodeExecutionData[]> {
  return await executeForEachItem.call(
    this,
    items,
    async (i) => {
      const filters = filtersFromParameters.call(this, i);
      const options = this.getNodeParameter('options', i, {}) as DownloadOptions;
      const stateStore = nodeStateStore.call(this);
      return (await withStatefulKsefClient.call(
        this,
        stateStore,
        async (client: KsefClient) => await download.call(this, client, filters, options),
      )) as INodeExecutionData[];
    },
    FILTER_FIELD_LABELS,
  );
}
