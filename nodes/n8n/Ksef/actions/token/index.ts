import type { INodeProperties } from 'n8n-workflow';
import * as generate from './generate.operation';
import * as get from './get.operation';
import * as getAll from './getAll.operation';
import * as revoke from './revoke.operation';

export { generate, get, getAll, revoke };

export const description: INodeProperties[] = [
  {
    displayName: 'Operation',
    name: 'operation',
    type: 'options',
    noDataExpression: true,
    displayOptions: { show: { resource: ['token'] } },
    options: [
      {
        name: 'Generate',
        value: 'generate',
        description:
          "Generate a KSeF token for the context. Its secret is output once, in 'token': put it into a credential, never into a chat, a log or a file.",
        action: 'Generate a KSeF token',
      },
      { name: 'Get', value: 'get', description: "Get a KSeF token's status and details", action: 'Get a KSeF token' },
      { name: 'Get Many', value: 'getAll', description: 'List the KSeF tokens of the context', action: 'Get many KSeF tokens' },
      {
        name: 'Revoke',
        value: 'revoke',
        description: 'Revoke a KSeF token: it stops authenticating at once, for good (cannot be undone)',
        action: 'Revoke a KSeF token (irreversible)',
      },
    ],
    default: 'generate',
  },
  ...generate.description,
  ...get.description,
  ...getAll.description,
  ...revoke.description,
];
