import type { IDataObject, IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { updateDisplayOptions } from 'n8n-workflow';
import { executeForEachItem } from '../../helpers/items';
import { getKsefClient } from '../../transport/client';

const properties: INodeProperties[] = [
  {
    displayName: 'Options',
    name: 'options',
    type: 'collection',
    placeholder: 'Add option',
    default: {},
    options: [
      {
        displayName: 'Reuse Current Session',
        name: 'reuseSession',
        type: 'boolean',
        default: false,
        description:
          'Whether to report the session n8n already holds for this credential instead of authenticating anew. Off, the credential is proven again.',
      },
    ],
  },
];

const displayOptions = { show: { resource: ['authentication'], operation: ['authenticate'] } };

export const description = updateDisplayOptions(displayOptions, properties);

/** Authenticates with the credential and reports the session: its reference number and validity, never its tokens. */
export async function execute(this: IExecuteFunctions, items: INodeExecutionData[]): Promise<INodeExecutionData[]> {
  return await executeForEachItem.call(this, items, async (i) => {
    const reuseSession = this.getNodeParameter('options.reuseSession', i, false) as boolean;
    const client = await getKsefClient.call(this);
    const session = await client.authenticate({ force: !reuseSession });
    return { json: session as unknown as IDataObject };
  });
}
