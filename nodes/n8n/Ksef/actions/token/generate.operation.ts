import type { IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { updateDisplayOptions } from 'n8n-workflow';
import { KSEF_TOKEN_PERMISSIONS } from '../../../../../shared';
import type { KsefTokenPermission } from '../../../../../shared';
import { executeForEachItem } from '../../helpers/items';
import { getKsefClient } from '../../transport/client';

const PERMISSION_DESCRIPTIONS: Record<KsefTokenPermission, string> = {
  InvoiceRead: 'Download invoices',
  InvoiceWrite: 'Send invoices',
  CredentialsRead: 'See permissions and tokens',
  CredentialsManage: 'Grant permissions, manage tokens',
  SubunitManage: 'Manage subunits',
  EnforcementOperations: 'Enforcement authority operations',
  Introspection: 'Read session and UPO details',
};

const properties: INodeProperties[] = [
  {
    displayName:
      "The new token's secret is in the output field 'token'. KSeF shows it only this once: put it straight into a 'KSeF API' credential and keep it out of logs, messages and files. n8n stores it with the execution data, so consider not saving successful executions of this workflow.",
    name: 'secretNotice',
    type: 'notice',
    default: '',
  },
  {
    displayName: 'Permissions',
    name: 'permissions',
    type: 'multiOptions',
    default: ['InvoiceRead', 'InvoiceWrite'],
    required: true,
    options: KSEF_TOKEN_PERMISSIONS.map((permission) => ({
      name: permission,
      value: permission,
      description: PERMISSION_DESCRIPTIONS[permission],
    })),
    description: 'What the token may do in the context; it cannot have more than the credential that generates it',
  },
  {
    displayName: 'Description',
    name: 'description',
    type: 'string',
    default: '',
    required: true,
    placeholder: 'e.g. n8n: invoice sending from the ERP',
    description: 'What the token is for (5 to 256 characters); it helps find and revoke the token later',
  },
  {
    displayName: 'Wait Until Active',
    name: 'waitUntilActive',
    type: 'boolean',
    default: true,
    description: 'Whether to wait until KSeF has activated the token (status Active). Off, the token is returned at once as Pending.',
  },
];

const displayOptions = { show: { resource: ['token'], operation: ['generate'] } };

export const description = updateDisplayOptions(displayOptions, properties);

/** Generates a KSeF token; its secret is returned once, in `token`, and appears nowhere else. */
export async function execute(this: IExecuteFunctions, items: INodeExecutionData[]): Promise<INodeExecutionData[]> {
  return await executeForEachItem.call(
    this,
    items,
    async (i) => {
      const permissions = this.getNodeParameter('permissions', i) as KsefTokenPermission[];
      const tokenDescription = this.getNodeParameter('description', i) as string;
      const client = await getKsefClient.call(this);
      const generated = await client.tokens.generate({
        permissions,
        description: tokenDescription,
        waitUntilActive: this.getNodeParameter('waitUntilActive', i, true) as boolean,
      });
      return {
        json: {
          referenceNumber: generated.referenceNumber,
          status: generated.status,
          permissions,
          description: tokenDescription,
          token: generated.token,
        },
      };
    },
    { 'options.permissions': 'Permissions', 'options.description': 'Description' },
  );
}
