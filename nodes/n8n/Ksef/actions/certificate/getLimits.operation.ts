import type { IDataObject, IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { executeForEachItem } from '../../helpers/items';
import { getKsefClient } from '../../transport/client';

/** No parameters: the credential says whose data it is. */
export const description: INodeProperties[] = [];

/** How many more certificates may be requested and held. */
export async function execute(this: IExecuteFunctions, items: INodeExecutionData[]): Promise<INodeExecutionData[]> {
  return await executeForEachItem.call(this, items, async () => {
    const client = await getKsefClient.call(this);
    return { json: (await client.certificates.limits()) as unknown as IDataObject };
  });
}
