import type { IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { updateDisplayOptions } from 'n8n-workflow';
import { executeForEachItem } from '../../helpers/items';
import { getKsefClient } from '../../transport/client';

const properties: INodeProperties[] = [
  {
    displayName: 'Session',
    name: 'session',
    type: 'options',
    default: 'current',
    options: [
      {
        name: 'Current Session',
        value: 'current',
        description: 'The session n8n holds for this credential; the next KSeF call authenticates anew',
      },
      { name: 'By Reference Number', value: 'byReferenceNumber', description: 'Any session of the context, e.g. from Get Many Sessions' },
    ],
    description: 'Which authentication session to revoke. Its refresh token stops working at once.',
  },
  {
    displayName: 'Reference Number',
    name: 'referenceNumber',
    type: 'string',
    default: '',
    required: true,
    placeholder: 'e.g. 20251010-AU-19F5E39000-39B5B182BA-B8',
    displayOptions: { show: { session: ['byReferenceNumber'] } },
    description: 'Reference number of the authentication session, e.g. {{ $json.referenceNumber }}',
  },
];

const displayOptions = { show: { resource: ['authentication'], operation: ['revokeSession'] } };

export const description = updateDisplayOptions(displayOptions, properties);

export async function execute(this: IExecuteFunctions, items: INodeExecutionData[]): Promise<INodeExecutionData[]> {
  return await executeForEachItem.call(
    this,
    items,
    async (i) => {
      const client = await getKsefClient.call(this);
      if (this.getNodeParameter('session', i) === 'current') {
        await client.authSessions.revokeCurrent();
        return { json: { session: 'current', revoked: true } };
      }
      const referenceNumber = (this.getNodeParameter('referenceNumber', i) as string).trim();
      await client.authSessions.revoke(referenceNumber);
      return { json: { referenceNumber, revoked: true } };
    },
    { referenceNumber: 'Reference Number' },
  );
}
