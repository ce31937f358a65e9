import { NodeInputError } from './base/inputNode';
import { collect, identifierFrom, registerOperationNode, type OperationNodeDef } from './base/operationNode';
import type { NodeAPI } from './runtimeTypes';

/**
 * Authentication of the config node's credentials and the context's authentication sessions: authenticate (always
 * anew, so it proves the credentials work now), list sessions, revoke this client's session or one by reference.
 */
export default function registerKsefAuth(RED: NodeAPI): void {
  registerOperationNode<OperationNodeDef>(RED, 'ksef-auth', {
    authenticate: {
      running: 'authenticating',
      run: async ({ client }) => ({ payload: await client().authenticate({ force: true }), status: 'authenticated' }),
    },
    listSessions: {
      running: 'listing',
      run: async ({ client }) => {
        const sessions = await collect(client().authSessions.list());
        return { payload: sessions, status: 'listed', count: sessions.length };
      },
    },
    revokeCurrent: {
      running: 'revoking',
      run: async ({ client }) => {
        await client().authSessions.revokeCurrent();
        return { payload: { current: true, revoked: true }, status: 'revoked' };
      },
    },
    revoke: {
      running: 'revoking',
      run: async ({ msg, client }) => {
        const referenceNumber = identifierFrom(msg, 'referenceNumber', ['referenceNumber']);
        if (!referenceNumber) throw new NodeInputError(RED._('ksef-auth.errors.missing-reference'));
        await client().authSessions.revoke(referenceNumber);
        return { payload: { referenceNumber, revoked: true }, status: 'revoked' };
      },
    },
  });
}
