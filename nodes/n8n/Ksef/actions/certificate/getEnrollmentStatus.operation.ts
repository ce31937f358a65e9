import type { IDataObject, IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { updateDisplayOptions } from 'n8n-workflow';
import { enrollmentStatusMeaning } from '../../../../../shared';
import { executeForEachItem } from '../../helpers/items';
import { getKsefClient } from '../../transport/client';

const properties: INodeProperties[] = [
  {
    displayName: 'Enrollment Reference Number',
    name: 'referenceNumber',
    type: 'string',
    default: '',
    required: true,
    placeholder: 'e.g. 20251010-EH-1B6C9EB000-4B15D3AEB9-89',
    description: 'Reference number of the enrollment, e.g. {{ $json.referenceNumber }} from Enroll',
  },
];

const displayOptions = { show: { resource: ['certificate'], operation: ['getEnrollmentStatus'] } };

export const description = updateDisplayOptions(displayOptions, properties);

/** KSeF's verdict on an enrollment so far: status code 100 in progress, 200 issued (with the serial number), 400 rejected. */
export async function execute(this: IExecuteFunctions, items: INodeExecutionData[]): Promise<INodeExecutionData[]> {
  return await executeForEachItem.call(
    this,
    items,
    async (i) => {
      const referenceNumber = (this.getNodeParameter('referenceNumber', i) as string).trim();
      const client = await getKsefClient.call(this);
      const status = await client.certificates.enrollmentStatus(referenceNumber);
      // KSeF's status text is Polish: its English meaning goes beside it.
      return { json: { ...status, statusMeaning: enrollmentStatusMeaning(status.status.code) } as unknown as IDataObject };
    },
    { referenceNumber: 'Enrollment Reference Number' },
  );
}
