import type { KsefTokenPermission, ListKsefTokensOptions } from '../../shared';
import { NodeInputError } from './base/inputNode';
import { collect, identifierFrom, objectFrom, registerOperationNode, type OperationNodeDef } from './base/operationNode';
import type { NodeAPI, NodeMessage } from './runtimeTypes';

interface KsefTokenDef extends OperationNodeDef {
  description?: string;
  permissions?: KsefTokenPermission[];
  waitUntilActive?: boolean;
}

/**
 * KSeF tokens of the context: generate (the secret goes to msg.payload only, never to a status or log), list, get,
 * revoke.
 */
export default function registerKsefToken(RED: NodeAPI): void {
  const referenceOf = (msg: NodeMessage): string => {
    const referenceNumber = identifierFrom(msg, 'referenceNumber', ['referenceNumber']);
    if (!referenceNumber) throw new NodeInputError(RED._('ksef-token.errors.missing-reference'));
    return referenceNumber;
  };

  registerOperationNode<KsefTokenDef>(RED, 'ksef-token', {
    generate: {
      running: 'generating',
      run: async ({ msg, def, client }) => {
        const permissions = Array.isArray(msg.permissions) ? (msg.permissions as KsefTokenPermission[]) : (def.permissions ?? []);
        if (permissions.length === 0) throw new NodeInputError(RED._('ksef-token.errors.missing-permissions'));
        const generated = await client().tokens.generate({
          permissions,
          description: typeof msg.description === 'string' ? msg.description : (def.description ?? ''),
          waitUntilActive: def.waitUntilActive !== false,
        });
        return { payload: generated, status: generated.status === 'Active' ? 'generated' : 'pending' };
      },
    },
    list: {
      running: 'listing',
      run: async ({ msg, client }) => {
        const tokens = await collect(
          client().tokens.list(objectFrom<ListKsefTokensOptions>(msg, 'filter', () => RED._('ksef-token.errors.bad-filter'))),
        );
        return { payload: tokens, status: 'listed', count: tokens.length };
      },
    },
    get: {
      running: 'reading',
      run: async ({ msg, client }) => {
        const token = await client().tokens.get(referenceOf(msg));
        return { payload: token, status: `token-${token.status}` };
      },
    },
    revoke: {
      running: 'revoking',
      run: async ({ msg, client }) => {
        const referenceNumber = referenceOf(msg);
        await client().tokens.revoke(referenceNumber);
        return { payload: { referenceNumber, revoked: true }, status: 'revoked' };
      },
    },
  });
}
