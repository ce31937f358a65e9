import type { INodeTypeDescription } from 'n8n-workflow';
import { NodeConnectionTypes } from 'n8n-workflow';
import { KSEF_CREDENTIAL_NAME } from '../transport/client';
import * as invoice from './invoice';

export const versionDescription: INodeTypeDescription = {
  displayName: 'KSeF',
  name: 'ksef',
  icon: 'file:ksef.svg',
  group: ['output'],
  version: 1,
  subtitle: '={{ $parameter["operation"] + ": " + $parameter["resource"] }}',
  description: "Send invoices to KSeF 2.0, Poland's National e-Invoicing System",
  defaults: { name: 'KSeF' },
  usableAsTool: true,
  inputs: [NodeConnectionTypes.Main],
  outputs: [NodeConnectionTypes.Main],
  credentials: [{ name: KSEF_CREDENTIAL_NAME, required: true, testedBy: 'ksefApiTest' }],
  properties: [
    {
      displayName: 'Resource',
      name: 'resource',
      type: 'options',
      noDataExpression: true,
      options: [{ name: 'Invoice', value: 'invoice' }],
      default: 'invoice',
    },
    ...invoice.description,
  ],
};
