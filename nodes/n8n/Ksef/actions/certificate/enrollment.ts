/** What Enroll and Complete Enrollment share: the wait option and the output item of an issued certificate. */
import type { IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import type { EnrolledCertificate } from '../../../../../shared';
import { binaryFiles } from '../../helpers/items';
import { PEM_MIME_TYPE, PKCS12_MIME_TYPE } from './files';

export const WAIT_FOR_CERTIFICATE_OPTION: INodeProperties = {
  displayName: 'Wait for Certificate (Seconds)',
  name: 'waitForCertificateSeconds',
  type: 'number',
  typeOptions: { minValue: 1 },
  default: 120,
  description: 'How long to wait for KSeF to issue the certificate',
};

/** The option in the engine's unit. */
export function waitForCertificateMs(this: IExecuteFunctions, i: number): number {
  return (this.getNodeParameter('options.waitForCertificateSeconds', i, 120) as number) * 1000;
}

/** An issued KSeF certificate: public details in json, the certificate files as binary. */
export async function enrolledCertificateItem(this: IExecuteFunctions, enrolled: EnrolledCertificate): Promise<INodeExecutionData> {
  const fileName = `KSeF-${enrolled.serialNumber}`;
  return {
    json: {
      status: enrolled.status,
      referenceNumber: enrolled.referenceNumber,
      serialNumber: enrolled.serialNumber,
      certificateName: enrolled.certificateName,
      certificateType: enrolled.certificateType,
      validFrom: enrolled.validFrom,
      validTo: enrolled.validTo,
      fingerprintSha256: enrolled.fingerprintSha256,
    },
    binary: await binaryFiles.call(this, {
      pkcs12: { content: enrolled.pkcs12, fileName: `${fileName}.p12`, mimeType: PKCS12_MIME_TYPE },
      certificate: { content: enrolled.certificatePem, fileName: `${fileName}.crt.pem`, mimeType: PEM_MIME_TYPE },
      privateKey: { content: enrolled.privateKeyPem, fileName: `${fileName}.key.pem`, mimeType: PEM_MIME_TYPE },
    }),
  };
}
