import type { IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { updateDisplayOptions } from 'n8n-workflow';
import { generateTestCertificate, TEST_CERTIFICATE_WARNING, type TestCertificateSubject } from '../../../../../shared';
import { binaryFiles, executeForEachItem } from '../../helpers/items';
import { CERTIFICATE_FILES_HINT, PEM_MIME_TYPE, PKCS12_MIME_TYPE } from './files';

const properties: INodeProperties[] = [
  { displayName: TEST_CERTIFICATE_WARNING, name: 'testCertificateNotice', type: 'notice', default: '' },
  { displayName: CERTIFICATE_FILES_HINT, name: 'filesNotice', type: 'notice', default: '' },
  {
    displayName: 'Subject Type',
    name: 'subjectType',
    type: 'options',
    default: 'seal',
    options: [
      { name: 'Organisation Seal (VATPL)', value: 'seal', description: "A company's seal, identified by its NIP" },
      { name: 'Person (TINPL or PNOPL)', value: 'person', description: 'A person, identified by NIP or PESEL' },
    ],
    description: 'Whom the certificate stands for',
  },
  {
    displayName: 'Organisation Name',
    name: 'organizationName',
    type: 'string',
    default: '',
    required: true,
    placeholder: 'e.g. Demo Biuro Rachunkowe sp. z o.o.',
    displayOptions: { show: { subjectType: ['seal'] } },
  },
  {
    displayName: 'Given Name',
    name: 'givenName',
    type: 'string',
    default: '',
    required: true,
    placeholder: 'e.g. Jan',
    displayOptions: { show: { subjectType: ['person'] } },
  },
  {
    displayName: 'Surname',
    name: 'surname',
    type: 'string',
    default: '',
    required: true,
    placeholder: 'e.g. Kowalski',
    displayOptions: { show: { subjectType: ['person'] } },
  },
  {
    displayName: 'Person Identifier',
    name: 'personIdentifierType',
    type: 'options',
    default: 'nip',
    options: [
      { name: 'NIP (TINPL)', value: 'nip' },
      { name: 'PESEL (PNOPL)', value: 'pesel' },
    ],
    displayOptions: { show: { subjectType: ['person'] } },
    description: 'Which identifier of the person the certificate carries',
  },
  {
    displayName: 'NIP',
    name: 'nip',
    type: 'string',
    default: '',
    required: true,
    placeholder: 'e.g. 1234563218',
    displayOptions: { show: { subjectType: ['seal'] } },
    description: "The organisation's NIP (10 digits); on the embedded sandbox 1234563218 is the demo company",
  },
  {
    displayName: 'NIP',
    name: 'personNip',
    type: 'string',
    default: '',
    required: true,
    placeholder: 'e.g. 1234563218',
    displayOptions: { show: { subjectType: ['person'], personIdentifierType: ['nip'] } },
    description: "The person's NIP (10 digits)",
  },
  {
    displayName: 'PESEL',
    name: 'pesel',
    type: 'string',
    default: '',
    required: true,
    placeholder: 'e.g. 90010112345',
    displayOptions: { show: { subjectType: ['person'], personIdentifierType: ['pesel'] } },
    description: "The person's PESEL (11 digits)",
  },
  {
    displayName: 'Key Type',
    name: 'keyType',
    type: 'options',
    default: 'EC',
    // The same values as Enroll's, so switching between the two operations keeps the choice.
    options: [
      { name: 'EC P-256', value: 'EC' },
      { name: 'RSA 2048', value: 'RSA' },
    ],
    description: 'Kind of key pair generated for the certificate',
  },
  {
    displayName: 'PKCS#12 Password',
    name: 'pkcs12Password',
    type: 'string',
    typeOptions: { password: true },
    default: '',
    required: true,
    description: "Protects the output PKCS#12 file; put it in the credential's 'PKCS#12 Password'",
  },
  {
    displayName: 'Options',
    name: 'options',
    type: 'collection',
    placeholder: 'Add option',
    default: {},
    options: [
      {
        displayName: 'Common Name',
        name: 'commonName',
        type: 'string',
        default: '',
        description: 'The certificate\'s CN (default: the organisation name, or "given name surname")',
      },
      {
        displayName: 'Validity (Days)',
        name: 'validityDays',
        type: 'number',
        typeOptions: { minValue: 1 },
        default: 730,
        description: 'How many days from now the certificate is valid',
      },
    ],
  },
];

const displayOptions = { show: { resource: ['certificate'], operation: ['generateTestCertificate'] } };

export const description = updateDisplayOptions(displayOptions, properties);

function subjectOf(this: IExecuteFunctions, i: number): TestCertificateSubject {
  const commonName = (this.getNodeParameter('options.commonName', i, '') as string) || undefined;
  if (this.getNodeParameter('subjectType', i) === 'seal') {
    return {
      kind: 'seal',
      organizationName: this.getNodeParameter('organizationName', i) as string,
      nip: (this.getNodeParameter('nip', i) as string).trim(),
      commonName,
    };
  }
  const byNip = this.getNodeParameter('personIdentifierType', i) === 'nip';
  return {
    kind: 'person',
    givenName: this.getNodeParameter('givenName', i) as string,
    surname: this.getNodeParameter('surname', i) as string,
    ...(byNip
      ? { nip: (this.getNodeParameter('personNip', i) as string).trim() }
      : { pesel: (this.getNodeParameter('pesel', i) as string).trim() }),
    commonName,
  };
}

/** A self-signed certificate for certificate authentication on the sandbox and KSeF TEST; no KSeF call. */
export async function execute(this: IExecuteFunctions, items: INodeExecutionData[]): Promise<INodeExecutionData[]> {
  return await executeForEachItem.call(this, items, async (i) => {
    const subject = subjectOf.call(this, i);
    const keyType = this.getNodeParameter('keyType', i) as 'EC' | 'RSA';
    const certificate = generateTestCertificate({
      subject,
      keyType: keyType === 'RSA' ? 'rsa' : 'ec',
      pkcs12Password: this.getNodeParameter('pkcs12Password', i) as string,
      validityDays: this.getNodeParameter('options.validityDays', i, 730) as number,
      logger: this.logger,
    });
    const fileName = `test-${subject.kind}-${certificate.fingerprintSha256.slice(0, 12)}`;
    return {
      json: { warning: certificate.warning, subject: { ...subject }, keyType, fingerprintSha256: certificate.fingerprintSha256 },
      binary: await binaryFiles.call(this, {
        pkcs12: { content: certificate.pkcs12, fileName: `${fileName}.p12`, mimeType: PKCS12_MIME_TYPE },
        certificate: { content: certificate.certificatePem, fileName: `${fileName}.crt.pem`, mimeType: PEM_MIME_TYPE },
        privateKey: { content: certificate.privateKeyPem, fileName: `${fileName}.key.pem`, mimeType: PEM_MIME_TYPE },
      }),
    };
  });
}
