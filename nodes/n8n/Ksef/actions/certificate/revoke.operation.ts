import type { IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { updateDisplayOptions } from 'n8n-workflow';
import type { CertificateRevocationReason } from '../../../../../shared';
import { executeForEachItem } from '../../helpers/items';
import { getKsefClient } from '../../transport/client';

const properties: INodeProperties[] = [
  {
    displayName: 'Serial Number',
    name: 'serialNumber',
    type: 'string',
    default: '',
    required: true,
    placeholder: 'e.g. 0321C82DA41B4362',
    description: 'Serial number of the KSeF certificate to revoke, e.g. {{ $json.serialNumber }}',
  },
  {
    displayName: 'Reason',
    name: 'reason',
    type: 'options',
    default: 'Unspecified',
    options: [
      { name: 'Unspecified', value: 'Unspecified' },
      { name: 'Superseded', value: 'Superseded', description: 'Replaced by a new certificate' },
      { name: 'Key Compromise', value: 'KeyCompromise', description: 'The private key may be known to others' },
    ],
    description: 'Why the certificate is revoked',
  },
];

const displayOptions = { show: { resource: ['certificate'], operation: ['revoke'] } };

export const description = updateDisplayOptions(displayOptions, properties);

/** Revokes a KSeF certificate: it no longer authenticates nor signs. */
export async function execute(this: IExecuteFunctions, items: INodeExecutionData[]): Promise<INodeExecutionData[]> {
  return await executeForEachItem.call(this, items, async (i) => {
    const serialNumber = (this.getNodeParameter('serialNumber', i) as string).trim();
    const reason = this.getNodeParameter('reason', i, 'Unspecified') as CertificateRevocationReason;
    const client = await getKsefClient.call(this);
    await client.certificates.revoke(serialNumber, reason);
    return { json: { serialNumber, reason, revoked: true } };
  });
}
