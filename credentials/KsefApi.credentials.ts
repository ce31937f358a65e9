import type { ICredentialType, INodeProperties } from 'n8n-workflow';

/** Connection to KSeF with a KSeF token. It is tested by the KSeF node's `ksefApiTest`, which really authenticates. */
export class KsefApi implements ICredentialType {
  name = 'ksefApi';

  displayName = 'KSeF API';

  icon = 'file:../nodes/n8n/Ksef/ksef.svg' as const;

  documentationUrl = 'https://github.com/CIRFMF/ksef-docs';

  properties: INodeProperties[] = [
    {
      displayName: 'Environment',
      name: 'environment',
      type: 'options',
      default: 'sandbox',
      options: [
        {
          name: 'Sandbox (Embedded)',
          value: 'sandbox',
          description:
            'A local KSeF simulator started inside n8n. Nothing leaves this machine; good for trying workflows.',
        },
        { name: 'Test', value: 'test', description: "The Ministry of Finance's test environment (fake data)" },
        { name: 'Demo', value: 'demo', description: 'The pre-production environment (real company data, no legal effect)' },
        { name: 'Production', value: 'production', description: 'Live KSeF: invoices sent here are legally issued' },
        { name: 'Custom', value: 'custom', description: 'Any KSeF 2.0 compatible API at the base URL below' },
      ],
      description: 'Which KSeF to talk to. Sandbox needs no account.',
    },
    {
      displayName: 'Base URL',
      name: 'baseUrl',
      type: 'string',
      default: '',
      placeholder: 'e.g. https://ksef.example.com/v2',
      required: true,
      displayOptions: { show: { environment: ['custom'] } },
      description: 'Root of the KSeF 2.0 API, including the version path (usually ends with /v2)',
    },
    {
      displayName: 'Context Identifier Type',
      name: 'contextIdentifierType',
      type: 'options',
      default: 'Nip',
      options: [
        { name: 'NIP', value: 'Nip', description: 'Polish tax identification number (10 digits)' },
        { name: 'Internal ID', value: 'InternalId', description: 'Internal identifier: NIP-5 digits' },
        { name: 'NIP VAT UE', value: 'NipVatUe', description: 'Composite identifier: NIP-EU VAT number' },
        { name: 'Peppol ID', value: 'PeppolId', description: 'Identifier of a Peppol service provider' },
      ],
      description: 'Kind of identifier of the company (context) you act for in KSeF',
    },
    {
      displayName: 'Context Identifier',
      name: 'contextIdentifierValue',
      type: 'string',
      default: '',
      placeholder: 'e.g. 1234563218',
      description:
        'The identifier of the company you act for, e.g. its NIP. On Sandbox leave it empty to use the sandbox demo company (NIP 1234563218).',
    },
    {
      displayName: 'KSeF Token',
      name: 'ksefToken',
      type: 'string',
      typeOptions: { password: true },
      default: '',
      description:
        "A KSeF token generated in KSeF for this context (Aplikacja Podatnika KSeF or the API). It needs the 'InvoiceWrite' permission to send invoices. On Sandbox leave it empty to use the sandbox demo token.",
    },
  ];
}
