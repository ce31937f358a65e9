import type { INodeProperties } from 'n8n-workflow';
import * as send from './send.operation';

export { send };

export const description: INodeProperties[] = [
  {
    displayName: 'Operation',
    name: 'operation',
    type: 'options',
    noDataExpression: true,
    displayOptions: { show: { resource: ['invoice'] } },
    options: [
      {
        name: 'Send',
        value: 'send',
        description: 'Send invoices to KSeF in one online session and get their KSeF numbers and UPO',
        action: 'Send invoices',
      },
    ],
    default: 'send',
  },
  ...send.description,
];
