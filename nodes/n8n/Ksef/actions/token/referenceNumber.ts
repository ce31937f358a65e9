import type { INodeProperties } from 'n8n-workflow';

/** The token an operation acts on; `operation` is where the parameter shows. */
export function tokenReferenceNumber(operation: string): INodeProperties {
  return {
    displayName: 'Token Reference Number',
    name: 'referenceNumber',
    type: 'string',
    default: '',
    required: true,
    placeholder: 'e.g. 20251010-EC-1DCE3E3000-12ECB5B36E-45',
    displayOptions: { show: { resource: ['token'], operation: [operation] } },
    description: 'Reference number of the KSeF token (not its secret), e.g. {{ $json.referenceNumber }} from Generate or Get Many',
  };
}
