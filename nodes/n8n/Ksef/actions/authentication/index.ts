import type { INodeProperties } from 'n8n-workflow';
import * as authenticate from './authenticate.operation';
import * as getAllSessions from './getAllSessions.operation';
import * as revokeSession from './revokeSession.operation';

export { authenticate, getAllSessions, revokeSession };

export const description: INodeProperties[] = [
  {
    displayName: 'Operation',
    name: 'operation',
    type: 'options',
    noDataExpression: true,
    displayOptions: { show: { resource: ['authentication'] } },
    options: [
      {
        name: 'Authenticate',
        value: 'authenticate',
        description: 'Prove the credential to KSeF and get the session reference number and validity',
        action: 'Authenticate with KSeF',
      },
      {
        name: 'Get Many Sessions',
        value: 'getAllSessions',
        description: 'List the authentication sessions of the context',
        action: 'Get many authentication sessions',
      },
      {
        name: 'Revoke Session',
        value: 'revokeSession',
        description: "Revoke this credential's session or another one, so its refresh token stops working",
        action: 'Revoke an authentication session',
      },
    ],
    default: 'authenticate',
  },
  ...authenticate.description,
  ...getAllSessions.description,
  ...revokeSession.description,
];
