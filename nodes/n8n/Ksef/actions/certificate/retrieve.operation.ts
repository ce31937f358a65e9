import type { IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { updateDisplayOptions } from 'n8n-workflow';
import { binaryFiles, executeForEachItem } from '../../helpers/items';
import { getKsefClient } from '../../transport/client';
import { PEM_MIME_TYPE } from './files';

const properties: INodeProperties[] = [
  {
    displayName: 'Serial Numbers',
    name: 'serialNumbers',
    type: 'string',
    default: '',
    required: true,
    placeholder: 'e.g. 0321C82DA41B4362, 1A2B3C4D5E6F7A8B',
    description: 'One to ten KSeF certificate serial numbers, separated by commas, e.g. {{ $json.certificateSerialNumber }}',
  },
];

const displayOptions = { show: { resource: ['certificate'], operation: ['retrieve'] } };

export const description = updateDisplayOptions(displayOptions, properties);

/** Downloads certificates (public part only): one output item per certificate, its PEM in binary 'certificate'. */
export async function execute(this: IExecuteFunctions, items: INodeExecutionData[]): Promise<INodeExecutionData[]> {
  return await executeForEachItem.call(
    this,
    items,
    async (i) => {
      const serialNumbers = (this.getNodeParameter('serialNumbers', i) as string)
        .split(',')
        .map((serialNumber) => serialNumber.trim())
        .filter(Boolean);
      const client = await getKsefClient.call(this);
      const certificates = await client.certificates.retrieve(serialNumbers);
      return await Promise.all(
        certificates.map(async ({ certificatePem, ...details }) => ({
          json: { ...details },
          binary: await binaryFiles.call(this, {
            certificate: { content: certificatePem, fileName: `KSeF-${details.certificateSerialNumber}.crt.pem`, mimeType: PEM_MIME_TYPE },
          }),
        })),
      );
    },
    { serialNumbers: 'Serial Numbers' },
  );
}
