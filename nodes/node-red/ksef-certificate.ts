import {
  generateTestCertificate,
  type CertificateRevocationReason,
  type KsefCertificateType,
  type QueryCertificatesOptions,
  type TestCertificateSubject,
} from '../../shared';
import { NodeInputError } from './base/inputNode';
import { collect, identifierFrom, objectFrom, registerOperationNode, takeSecret, type OperationNodeDef } from './base/operationNode';
import type { Node, NodeAPI, NodeMessage } from './runtimeTypes';

interface KsefCertificateDef extends OperationNodeDef {
  certificateName?: string;
  certificateType?: KsefCertificateType;
  keyType?: 'EC' | 'RSA';
  revocationReason?: CertificateRevocationReason;
  subjectKind?: 'seal' | 'person';
  organizationName?: string;
  givenName?: string;
  surname?: string;
  nip?: string;
  pesel?: string;
}

interface KsefCertificateCredentials {
  /** Protects the PKCS#12 that enroll, completeEnrollment and generateTestCertificate return. */
  pkcs12Password: string;
}

const SERIAL_NUMBER_KEYS = ['certificateSerialNumber', 'serialNumber'];

/**
 * KSeF certificates of the authenticated subject (enrollment data, limits, enroll, enrollment status, completing a
 * pending enrollment, query, retrieve, revoke), and self-signed test certificates, which only the embedded sandbox
 * and KSeF TEST accept.
 */
export default function registerKsefCertificate(RED: NodeAPI): void {
  /** Read before anything else of the message, so no failure leaves the password in the message for Catch nodes. */
  const pkcs12PasswordOf = (msg: NodeMessage, node: Node<KsefCertificateCredentials>): string => {
    const fromMessage = takeSecret(msg, 'pkcs12Password');
    const password = typeof fromMessage === 'string' && fromMessage !== '' ? fromMessage : node.credentials.pkcs12Password;
    if (!password) throw new NodeInputError(RED._('ksef-certificate.errors.missing-pkcs12-password'));
    return password;
  };
  const enrollmentReferenceOf = (msg: NodeMessage): string => {
    const referenceNumber = identifierFrom(msg, 'referenceNumber', ['referenceNumber']);
    if (!referenceNumber) throw new NodeInputError(RED._('ksef-certificate.errors.missing-reference'));
    return referenceNumber;
  };
  const serialNumberOf = (msg: NodeMessage): string => {
    const serialNumber = identifierFrom(msg, 'serialNumber', SERIAL_NUMBER_KEYS);
    if (!serialNumber) throw new NodeInputError(RED._('ksef-certificate.errors.missing-serial-number'));
    return serialNumber;
  };

  registerOperationNode<KsefCertificateDef, KsefCertificateCredentials>(
    RED,
    'ksef-certificate',
    {
      enrollmentData: {
        running: 'reading',
        run: async ({ client }) => ({ payload: await client().certificates.enrollmentData(), status: 'read' }),
      },
      limits: {
        running: 'reading',
        run: async ({ client }) => ({ payload: await client().certificates.limits(), status: 'read' }),
      },
      enroll: {
        running: 'enrolling',
        run: async ({ msg, def, node, client }) => {
          const pkcs12Password = pkcs12PasswordOf(msg, node);
          const result = await client().certificates.enroll({
            certificateName: typeof msg.certificateName === 'string' ? msg.certificateName : (def.certificateName ?? ''),
            certificateType: def.certificateType || 'Authentication',
            keyType: def.keyType || 'EC',
            pkcs12Password,
          });
          if (result.status === 'Issued') return { payload: withPkcs12Base64(result), status: 'enrolled' };
          node.warn(RED._('ksef-certificate.warnings.enrollment-pending', { referenceNumber: result.referenceNumber }));
          return { payload: result, status: 'pending' };
        },
      },
      enrollmentStatus: {
        running: 'reading',
        run: async ({ msg, client }) => {
          return { payload: await client().certificates.enrollmentStatus(enrollmentReferenceOf(msg)), status: 'read' };
        },
      },
      completeEnrollment: {
        running: 'enrolling',
        run: async ({ msg, node, client }) => {
          const pkcs12Password = pkcs12PasswordOf(msg, node);
          const payload = msg.payload as { encryptedPrivateKeyPem?: unknown } | undefined;
          const encryptedPrivateKeyPem = typeof payload === 'object' && payload !== null ? payload.encryptedPrivateKeyPem : undefined;
          if (typeof encryptedPrivateKeyPem !== 'string' || encryptedPrivateKeyPem === '') {
            throw new NodeInputError(RED._('ksef-certificate.errors.missing-private-key'));
          }
          const enrolled = await client().certificates.completeEnrollment({
            referenceNumber: enrollmentReferenceOf(msg),
            encryptedPrivateKeyPem,
            pkcs12Password,
          });
          return { payload: withPkcs12Base64(enrolled), status: 'enrolled' };
        },
      },
      query: {
        running: 'listing',
        run: async ({ msg, client }) => {
          const filter = objectFrom<QueryCertificatesOptions>(msg, 'filter', () => RED._('ksef-certificate.errors.bad-filter'));
          const certificates = await collect(client().certificates.query(filter));
          return { payload: certificates, status: 'listed', count: certificates.length };
        },
      },
      retrieve: {
        running: 'reading',
        run: async ({ msg, client }) => {
          const certificates = await client().certificates.retrieve(serialNumbersOf(msg));
          return { payload: certificates, status: 'retrieved', count: certificates.length };
        },
      },
      revoke: {
        running: 'revoking',
        run: async ({ msg, def, client }) => {
          const serialNumber = serialNumberOf(msg);
          await client().certificates.revoke(serialNumber, def.revocationReason || 'Unspecified');
          return { payload: { certificateSerialNumber: serialNumber, revoked: true }, status: 'revoked' };
        },
      },
      generateTestCertificate: {
        running: 'generating',
        offline: true,
        run: async ({ msg, def, node }) => {
          const pkcs12Password = pkcs12PasswordOf(msg, node);
          const subject =
            objectFrom<TestCertificateSubject>(msg, 'subject', () => RED._('ksef-certificate.errors.bad-subject')) ?? subjectOf(def);
          const certificate = generateTestCertificate({ subject, pkcs12Password, keyType: def.keyType === 'RSA' ? 'rsa' : 'ec' });
          node.warn(RED._('ksef-certificate.warnings.test-certificate'));
          return { payload: withPkcs12Base64(certificate), status: 'test-certificate' };
        },
      },
    },
    { pkcs12Password: { type: 'password' } },
  );

  /** `msg.serialNumbers`, or what the help promises for a single one, as a list. */
  function serialNumbersOf(msg: NodeMessage): string[] {
    const list = Array.isArray(msg.serialNumbers) ? msg.serialNumbers : Array.isArray(msg.payload) ? msg.payload : undefined;
    if (!list) return [serialNumberOf(msg)];
    return list.map((item, index) => {
      const serialNumber = identifierFrom({ payload: item }, 'serialNumber', SERIAL_NUMBER_KEYS);
      if (!serialNumber) throw new NodeInputError(RED._('ksef-certificate.errors.bad-serial-number', { index }));
      return serialNumber;
    });
  }
}

/** The PKCS#12 also as Base64, the form a ksef-config node takes. */
function withPkcs12Base64<T extends { pkcs12: Buffer }>(certificate: T): T & { pkcs12Base64: string } {
  return { ...certificate, pkcs12Base64: certificate.pkcs12.toString('base64') };
}

function subjectOf(def: KsefCertificateDef): TestCertificateSubject {
  const nip = def.nip?.trim() || undefined;
  if (def.subjectKind === 'person') {
    return {
      kind: 'person',
      givenName: def.givenName?.trim() ?? '',
      surname: def.surname?.trim() ?? '',
      nip,
      pesel: def.pesel?.trim() || undefined,
    };
  }
  return { kind: 'seal', organizationName: def.organizationName?.trim() ?? '', nip: nip ?? '' };
}
