import type { INodeProperties } from 'n8n-workflow';
import * as download from './download.operation';
import * as get from './get.operation';
import * as getStatus from './getStatus.operation';
import * as search from './search.operation';
import * as send from './send.operation';

export { download, get, getStatus, search, send };

export const description: INodeProperties[] = [
  {
    displayName: 'Operation',
    name: 'operation',
    type: 'options',
    noDataExpression: true,
    displayOptions: { show: { resource: ['invoice'] } },
    options: [
      {
        name: 'Download',
        value: 'download',
        description:
          "Download many invoices at once through a KSeF export package: one item per invoice with its KSeF metadata (number, seller, buyer, amounts, dates), its original XML as binary 'data' and optionally its content as JSON. KSeF allows about 20 exports an hour per company; use it for bulk and periodic downloads, the KSeF Trigger for new invoices.",
        action: 'Download invoices (export package)',
      },
      {
        name: 'Get',
        value: 'get',
        description:
          "Read one invoice by its KSeF number: its original XML as binary 'data' and its content as JSON in 'invoice' (seller, buyer, lines, VAT summary, totals, payment). Reads only; nothing is sent.",
        action: 'Get an invoice by KSeF number',
      },
      {
        name: 'Get Status',
        value: 'getStatus',
        description:
          "Read the status, KSeF number and UPO of an invoice sent earlier (by session reference number and invoice reference number or KSeF number). Sends nothing; use it for invoices Send returned as 'pending'.",
        action: 'Get the status of a sent invoice',
      },
      {
        name: 'Search',
        value: 'search',
        description:
          'Find invoices in KSeF by role (received, issued, third party, authorized subject), date range and filters: one item per invoice with its KSeF metadata (KSeF number, invoice number, seller, buyer, net/VAT/gross amounts, currency, dates), no XML. KSeF rate-limits this search (in production 20 requests an hour per company, each page of up to 250 invoices being one request), so ask for a narrow period or a Limit, and use Get for the XML.',
        action: 'Search invoices',
      },
      {
        name: 'Send',
        value: 'send',
        description:
          'Issue invoices in KSeF: sends invoice XML in one online session and returns KSeF numbers and UPO receipts. Outside the Sandbox this issues legally binding invoices and cannot be undone; never send the same invoice twice.',
        action: 'Send invoices to KSeF (legally binding, irreversible)',
      },
    ],
    default: 'send',
  },
  ...send.description,
  ...getStatus.description,
  ...get.description,
  ...search.description,
  ...download.description,
];
