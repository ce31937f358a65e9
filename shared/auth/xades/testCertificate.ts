import type { Logger } from '../../protocol/types';
import {
  TEST_CERTIFICATE_WARNING,
  generateTestCertificate as generateSelfSigned,
  type TestCertificate,
  type TestCertificateOptions,
} from '../../protocol/x509/testCertificates';

export { TEST_CERTIFICATE_WARNING, type TestCertificateOptions, type TestCertificateSubject } from '../../protocol/x509/testCertificates';

export interface GeneratedTestCertificate extends TestCertificate {
  /** Where the certificate works: the embedded sandbox and KSeF TEST only. Show it to whoever gets the certificate. */
  warning: string;
}

/**
 * A self-signed person (TINPL/PNOPL) or seal (VATPL) certificate for certificate authentication, as PKCS#12 and PEM.
 * Only the embedded sandbox and the KSeF TEST environment accept such certificates; the result says so in `warning`
 * and, when a logger is given, the warning is logged too.
 */
export function generateTestCertificate(options: TestCertificateOptions & { logger?: Logger }): GeneratedTestCertificate {
  const certificate = generateSelfSigned(options);
  options.logger?.warn(TEST_CERTIFICATE_WARNING, { fingerprintSha256: certificate.fingerprintSha256 });
  return { ...certificate, warning: TEST_CERTIFICATE_WARNING };
}
