import type { IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { updateDisplayOptions } from 'n8n-workflow';
import type { KsefCertificateType } from '../../../../../shared';
import { binaryFiles, executeForEachItem } from '../../helpers/items';
import { getKsefClient } from '../../transport/client';
import { WAIT_FOR_CERTIFICATE_OPTION, enrolledCertificateItem, waitForCertificateMs } from './enrollment';
import { CERTIFICATE_FILES_HINT, PEM_MIME_TYPE } from './files';

const PENDING_HINT =
  "If KSeF does not issue the certificate in time, the item gets status 'Pending' and binary 'privateKey' holds the new private key encrypted with the PKCS#12 password: keep that file and finish with Complete Enrollment";

const properties: INodeProperties[] = [
  { displayName: CERTIFICATE_FILES_HINT, name: 'filesNotice', type: 'notice', default: '' },
  { displayName: PENDING_HINT, name: 'pendingNotice', type: 'notice', default: '' },
  {
    displayName: 'Certificate Name',
    name: 'certificateName',
    type: 'string',
    default: '',
    required: true,
    placeholder: 'e.g. n8n invoicing',
    description: 'Your name for the certificate: 5 to 100 letters, digits, spaces, _ or -',
  },
  {
    displayName: 'Certificate Type',
    name: 'certificateType',
    type: 'options',
    default: 'Authentication',
    options: [
      { name: 'Authentication', value: 'Authentication', description: 'Signs in to KSeF (use it in a KSeF API credential)' },
      { name: 'Offline', value: 'Offline', description: 'Only signs offline invoices (QR code II); cannot sign in' },
    ],
    description: 'What the certificate is for',
  },
  {
    displayName: 'Key Type',
    name: 'keyType',
    type: 'options',
    default: 'EC',
    options: [
      { name: 'EC P-256', value: 'EC', description: "Elliptic curve key, KSeF's recommendation" },
      { name: 'RSA 2048', value: 'RSA' },
    ],
    description: 'Kind of key pair generated for the certificate, in n8n; the private key never goes to KSeF',
  },
  {
    displayName: 'PKCS#12 Password',
    name: 'pkcs12Password',
    type: 'string',
    typeOptions: { password: true },
    default: '',
    required: true,
    description: 'Protects the output PKCS#12 file (and the private key of a pending enrollment); you need it to use the certificate',
  },
  {
    displayName: 'Options',
    name: 'options',
    type: 'collection',
    placeholder: 'Add option',
    default: {},
    options: [
      {
        displayName: 'Valid From',
        name: 'validFrom',
        type: 'dateTime',
        default: '',
        description: 'When the certificate becomes valid (default: when KSeF issues it)',
      },
      WAIT_FOR_CERTIFICATE_OPTION,
    ],
  },
];

const displayOptions = { show: { resource: ['certificate'], operation: ['enroll'] } };

export const description = updateDisplayOptions(displayOptions, properties);

/**
 * Enrolls a KSeF certificate for the authenticated subject and outputs it with its new private key as files;
 * the json carries only public details. A pending enrollment outputs its encrypted private key instead.
 */
export async function execute(this: IExecuteFunctions, items: INodeExecutionData[]): Promise<INodeExecutionData[]> {
  return await executeForEachItem.call(
    this,
    items,
    async (i) => {
      const validFrom = this.getNodeParameter('options.validFrom', i, '') as string;
      const client = await getKsefClient.call(this);
      const result = await client.certificates.enroll({
        certificateName: this.getNodeParameter('certificateName', i) as string,
        certificateType: this.getNodeParameter('certificateType', i) as KsefCertificateType,
        keyType: this.getNodeParameter('keyType', i) as 'EC' | 'RSA',
        pkcs12Password: this.getNodeParameter('pkcs12Password', i) as string,
        waitForCertificateMs: waitForCertificateMs.call(this, i),
        ...(validFrom && { validFrom }),
      });
      if (result.status === 'Issued') return await enrolledCertificateItem.call(this, result);
      const { encryptedPrivateKeyPem, ...pending } = result;
      return {
        json: { ...pending },
        binary: await binaryFiles.call(this, {
          privateKey: {
            content: encryptedPrivateKeyPem,
            fileName: `KSeF-enrollment-${result.referenceNumber}.key.pem`,
            mimeType: PEM_MIME_TYPE,
          },
        }),
      };
    },
    { 'options.certificateName': 'Certificate Name', 'options.certificateType': 'Certificate Type', 'options.keyType': 'Key Type' },
  );
}
