import type { INodeProperties } from 'n8n-workflow';
import * as completeEnrollment from './completeEnrollment.operation';
import * as enroll from './enroll.operation';
import * as generateTestCertificate from './generateTestCertificate.operation';
import * as getAll from './getAll.operation';
import * as getEnrollmentData from './getEnrollmentData.operation';
import * as getEnrollmentStatus from './getEnrollmentStatus.operation';
import * as getLimits from './getLimits.operation';
import * as retrieve from './retrieve.operation';
import * as revoke from './revoke.operation';

export { completeEnrollment, enroll, generateTestCertificate, getAll, getEnrollmentData, getEnrollmentStatus, getLimits, retrieve, revoke };

export const description: INodeProperties[] = [
  {
    displayName: 'Operation',
    name: 'operation',
    type: 'options',
    noDataExpression: true,
    displayOptions: { show: { resource: ['certificate'] } },
    options: [
      {
        name: 'Complete Enrollment',
        value: 'completeEnrollment',
        description: 'Get the certificate of a pending enrollment with its private key, as PKCS#12 and PEM files',
        action: 'Complete a KSeF certificate enrollment',
      },
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
        name: 'Get Enrollment Status',
        value: 'getEnrollmentStatus',
        description: "Get KSeF's verdict on an enrollment by its reference number",
        action: 'Get certificate enrollment status',
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
      {
        name: 'Revoke',
        value: 'revoke',
        description: 'Revoke a KSeF certificate: it stops working at once, for good (cannot be undone)',
        action: 'Revoke a KSeF certificate (irreversible)',
      },
    ],
    default: 'getAll',
  },
  {
    displayName:
      "Needs a 'KSeF API' credential with Authentication Method 'Certificate' (a qualified certificate or seal, or a KSeF certificate); a KSeF token cannot manage certificates",
    name: 'certificateCredentialNotice',
    type: 'notice',
    default: '',
    displayOptions: { show: { resource: ['certificate'] }, hide: { operation: ['generateTestCertificate'] } },
  },
  ...completeEnrollment.description,
  ...enroll.description,
  ...generateTestCertificate.description,
  ...getAll.description,
  ...getEnrollmentData.description,
  ...getEnrollmentStatus.description,
  ...getLimits.description,
  ...retrieve.description,
  ...revoke.description,
];
