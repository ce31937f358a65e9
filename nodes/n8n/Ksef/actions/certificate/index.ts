import type { INodeProperties } from 'n8n-workflow';
import * as enroll from './enroll.operation';
import * as generateTestCertificate from './generateTestCertificate.operation';
import * as getAll from './getAll.operation';
import * as getEnrollmentData from './getEnrollmentData.operation';
import * as getLimits from './getLimits.operation';
import * as retrieve from './retrieve.operation';
import * as revoke from './revoke.operation';

export { enroll, generateTestCertificate, getAll, getEnrollmentData, getLimits, retrieve, revoke };

export const description: INodeProperties[] = [
  {
    displayName: 'Operation',
    name: 'operation',
    type: 'options',
    noDataExpression: true,
    displayOptions: { show: { resource: ['certificate'] } },
    options: [
      {
        name: 'Enroll',
        value: 'enroll',
        description: 'Get a new KSeF certificate with a new private key, as PKCS#12 and PEM files',
        action: 'Enroll a KSeF certificate',
      },
      {
        name: 'Generate Self-Signed Test Certificate',
        value: 'generateTestCertificate',
        description: 'Create a certificate for the embedded sandbox and KSeF TEST only; needs no credential',
        action: 'Generate a self-signed test certificate',
      },
      {
        name: 'Get Enrollment Data',
        value: 'getEnrollmentData',
        description: 'Get the subject data a new KSeF certificate will carry',
        action: 'Get certificate enrollment data',
      },
      {
        name: 'Get Limits',
        value: 'getLimits',
        description: 'Get how many more certificates may be requested and held',
        action: 'Get certificate limits',
      },
      {
        name: 'Get Many',
        value: 'getAll',
        description: 'List your KSeF certificates',
        action: 'Get many KSeF certificates',
      },
      {
        name: 'Retrieve',
        value: 'retrieve',
        description: 'Download KSeF certificates (without private keys) by serial number',
        action: 'Retrieve KSeF certificates',
      },
      { name: 'Revoke', value: 'revoke', description: 'Revoke a KSeF certificate', action: 'Revoke a KSeF certificate' },
    ],
    default: 'getAll',
  },
  ...enroll.description,
  ...generateTestCertificate.description,
  ...getAll.description,
  ...getEnrollmentData.description,
  ...getLimits.description,
  ...retrieve.description,
  ...revoke.description,
];
