import type { IExecuteFunctions, INodeExecutionData } from 'n8n-workflow';
import { executeForEachItem } from '../../helpers/items';
import { getKsefClient } from '../../transport/client';
import { tokenReferenceNumber } from './referenceNumber';

export const description = [tokenReferenceNumber('revoke')];

/** Revokes a token: it stops authenticating. Revoking it again is harmless. */
export async function execute(this: IExecuteFunctions, items: INodeExecutionData[]): Promise<INodeExecutionData[]> {
  return await executeForEachItem.call(
    this,
    items,
    async (i) => {
      const referenceNumber = (this.getNodeParameter('referenceNumber', i) as string).trim();
      const client = await getKsefClient.call(this);
      await client.tokens.revoke(referenceNumber);
      return { json: { referenceNumber, revoked: true } };
    },
    { referenceNumber: 'Token Reference Number' },
  );
}
