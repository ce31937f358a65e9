import type { IDataObject, IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { updateDisplayOptions } from 'n8n-workflow';
import { authenticationStatusMeaning, type AuthSessionInfo } from '../../../../../shared';
import { collectList, executeForEachItem, returnAllOrLimit } from '../../helpers/items';
import { getKsefClient } from '../../transport/client';

const properties: INodeProperties[] = [...returnAllOrLimit(1000)];

const displayOptions = { show: { resource: ['authentication'], operation: ['getAllSessions'] } };

export const description = updateDisplayOptions(displayOptions, properties);

/** The context's authentication sessions, newest first; `isCurrent` marks the one this credential uses. */
export async function execute(this: IExecuteFunctions, items: INodeExecutionData[]): Promise<INodeExecutionData[]> {
  return await executeForEachItem.call(this, items, async (i) => {
    const client = await getKsefClient.call(this);
    const sessions = (await collectList.call(this, client.authSessions.list(), i)) as AuthSessionInfo[];
    // KSeF's status text is Polish: its English meaning goes beside it.
    return sessions.map((session) => ({
      json: { ...session, statusMeaning: authenticationStatusMeaning(session.status.code) } as unknown as IDataObject,
    }));
  });
}
