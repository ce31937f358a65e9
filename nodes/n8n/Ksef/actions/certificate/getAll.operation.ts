import type { IDataObject, IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { updateDisplayOptions } from 'n8n-workflow';
import type { KsefCertificateStatus, KsefCertificateType, QueryCertificatesOptions } from '../../../../../shared';
import { collectList, executeForEachItem, returnAllOrLimit } from '../../helpers/items';
import { getKsefClient } from '../../transport/client';

const STATUSES: KsefCertificateStatus[] = ['Active', 'Blocked', 'Revoked', 'Expired'];

const properties: INodeProperties[] = [
  ...returnAllOrLimit(1000),
  {
    displayName: 'Filters',
    name: 'filters',
    type: 'collection',
    placeholder: 'Add filter',
    default: {},
    options: [
      {
        displayName: 'Expires After',
        name: 'expiresAfter',
        type: 'dateTime',
        default: '',
        description: 'Only certificates still valid at this time',
      },
      {
        displayName: 'Name Contains',
        name: 'name',
        type: 'string',
        default: '',
        description: 'Only certificates whose name contains this text',
      },
      {
        displayName: 'Serial Number',
        name: 'certificateSerialNumber',
        type: 'string',
        default: '',
        placeholder: 'e.g. 0321C82DA41B4362',
        description: 'Only the certificate with this serial number',
      },
      {
        displayName: 'Status',
        name: 'status',
        type: 'options',
        default: 'Active',
        options: STATUSES.map((status) => ({ name: status, value: status })),
        description: 'Only certificates in this state',
      },
      {
        displayName: 'Type',
        name: 'type',
        type: 'options',
        default: 'Authentication',
        options: [
          { name: 'Authentication', value: 'Authentication' },
          { name: 'Offline', value: 'Offline' },
        ],
        description: 'Only certificates of this type',
      },
    ],
  },
];

const displayOptions = { show: { resource: ['certificate'], operation: ['getAll'] } };

export const description = updateDisplayOptions(displayOptions, properties);

function queryOptions(filters: IDataObject): QueryCertificatesOptions {
  return {
    ...(filters.certificateSerialNumber && { certificateSerialNumber: (filters.certificateSerialNumber as string).trim() }),
    ...(filters.name && { name: filters.name as string }),
    ...(filters.type && { type: filters.type as KsefCertificateType }),
    ...(filters.status && { status: filters.status as KsefCertificateStatus }),
    ...(filters.expiresAfter && { expiresAfter: filters.expiresAfter as string }),
  };
}

/** The KSeF certificates of the authenticated subject (metadata only). */
export async function execute(this: IExecuteFunctions, items: INodeExecutionData[]): Promise<INodeExecutionData[]> {
  return await executeForEachItem.call(
    this,
    items,
    async (i) => {
      const filters = this.getNodeParameter('filters', i, {}) as IDataObject;
      const client = await getKsefClient.call(this);
      const certificates = await collectList.call(this, client.certificates.query(queryOptions(filters)), i);
      return certificates.map((certificate) => ({ json: certificate as unknown as IDataObject }));
    },
    { 'options.type': 'Type', 'options.status': 'Status' },
  );
}
