import type { INodeTypeDescription } from 'n8n-workflow';
import { NodeConnectionTypes } from 'n8n-workflow';
import { KSEF_CREDENTIAL_NAME } from '../transport/client';
import * as authentication from './authentication';
import * as certificate from './certificate';
import * as invoice from './invoice';
import * as token from './token';

export const versionDescription: INodeTypeDescription = {
  displayName: 'KSeF',
  name: 'ksef',
  icon: 'file:ksef.svg',
  group: ['output'],
  version: 1,
  subtitle: '={{ $parameter["operation"] + ": " + $parameter["resource"] }}',
  description:
    "Send, search and download invoices in KSeF 2.0, Poland's National e-Invoicing System, and manage its KSeF tokens, sessions and certificates",
  defaults: { name: 'KSeF' },
  usableAsTool: true,
  inputs: [NodeConnectionTypes.Main],
  outputs: [NodeConnectionTypes.Main],
  credentials: [
    {
      name: KSEF_CREDENTIAL_NAME,
      required: true,
      testedBy: 'ksefApiTest',
      // A self-signed test certificate is made locally: no KSeF, so no credential.
      displayOptions: { hide: { operation: ['generateTestCertificate'] } },
    },
  ],
  properties: [
    {
      displayName: 'Resource',
      name: 'resource',
      type: 'options',
      noDataExpression: true,
      options: [
        { name: 'Authentication', value: 'authentication' },
        { name: 'Certificate', value: 'certificate' },
        { name: 'Invoice', value: 'invoice' },
        { name: 'Token', value: 'token' },
      ],
      default: 'invoice',
    },
    ...invoice.description,
    ...authentication.description,
    ...token.description,
    ...certificate.description,
  ],
};
