import type { IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { updateDisplayOptions } from 'n8n-workflow';
import { binaryInput, executeForEachItem } from '../../helpers/items';
import { getKsefClient } from '../../transport/client';
import { WAIT_FOR_CERTIFICATE_OPTION, enrolledCertificateItem, waitForCertificateMs } from './enrollment';
import { CERTIFICATE_FILES_HINT } from './files';

const properties: INodeProperties[] = [
  { displayName: CERTIFICATE_FILES_HINT, name: 'filesNotice', type: 'notice', default: '' },
  {
    displayName: 'Enrollment Reference Number',
    name: 'referenceNumber',
    type: 'string',
    default: '',
    required: true,
    placeholder: 'e.g. 20251010-EH-1B6C9EB000-4B15D3AEB9-89',
    description: 'Reference number of the pending enrollment, e.g. {{ $json.referenceNumber }} from Enroll',
  },
  {
    displayName: 'Input Binary Field',
    name: 'binaryPropertyName',
    type: 'string',
    default: 'privateKey',
    required: true,
    hint: 'The name of the binary property that holds the encrypted private key file',
    description: "Binary property with the private key Enroll output for the pending enrollment ('privateKey')",
  },
  {
    displayName: 'PKCS#12 Password',
    name: 'pkcs12Password',
    type: 'string',
    typeOptions: { password: true },
    default: '',
    required: true,
    description: 'The password given to Enroll: it decrypts the private key and protects the output PKCS#12 file',
  },
  {
    displayName: 'Options',
    name: 'options',
    type: 'collection',
    placeholder: 'Add option',
    default: {},
    options: [WAIT_FOR_CERTIFICATE_OPTION],
  },
];

const displayOptions = { show: { resource: ['certificate'], operation: ['completeEnrollment'] } };

export const description = updateDisplayOptions(displayOptions, properties);

/** Finishes a pending enrollment with its private key and outputs the certificate files as Enroll does. */
export async function execute(this: IExecuteFunctions, items: INodeExecutionData[]): Promise<INodeExecutionData[]> {
  return await executeForEachItem.call(
    this,
    items,
    async (i) => {
      const binaryPropertyName = this.getNodeParameter('binaryPropertyName', i) as string;
      const encryptedPrivateKeyPem = (await binaryInput.call(this, items, i, binaryPropertyName, 'the encrypted private key')).toString(
        'utf8',
      );
      const client = await getKsefClient.call(this);
      const enrolled = await client.certificates.completeEnrollment({
        referenceNumber: (this.getNodeParameter('referenceNumber', i) as string).trim(),
        encryptedPrivateKeyPem,
        pkcs12Password: this.getNodeParameter('pkcs12Password', i) as string,
        waitForCertificateMs: waitForCertificateMs.call(this, i),
      });
      return await enrolledCertificateItem.call(this, enrolled);
    },
    { 'options.referenceNumber': 'Enrollment Reference Number', 'options.encryptedPrivateKeyPem': 'Input Binary Field' },
  );
}
