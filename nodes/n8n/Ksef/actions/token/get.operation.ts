import type { IDataObject, IExecuteFunctions, INodeExecutionData } from 'n8n-workflow';
import { executeForEachItem } from '../../helpers/items';
import { getKsefClient } from '../../transport/client';
import { tokenReferenceNumber } from './referenceNumber';

export const description = [tokenReferenceNumber('get')];

/** One token's metadata and status. */
export async function execute(this: IExecuteFunctions, items: INodeExecutionData[]): Promise<INodeExecutionData[]> {
  return await executeForEachItem.call(
    this,
    items,
    async (i) => {
      const referenceNumber = (this.getNodeParameter('referenceNumber', i) as string).trim();
      const client = await getKsefClient.call(this);
      return { json: (await client.tokens.get(referenceNumber)) as unknown as IDataObject };
    },
    { referenceNumber: 'Token Reference Number' },
  );
}
