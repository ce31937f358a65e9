import type { INodeProperties } from 'n8n-workflow';
import * as getStatus from './getStatus.operation';
import * as send from './send.operation';

export { getStatus, send };

export const description: INodeProperties[] = [
  {
    displayName: 'Operation',
    name: 'operation',
    type: 'options',
    noDataExpression: true,
    displayOptions: { show: { resource: ['invoice'] } },
    options: [
      {
        name: 'Get Status',
        value: 'getStatus',
        description:
          "Read the status, KSeF number and UPO of an invoice sent earlier (by session reference number and invoice reference number or KSeF number). Sends nothing; use it for invoices Send returned as 'pending'.",
        action: 'Get the status of a sent invoice',
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
];
