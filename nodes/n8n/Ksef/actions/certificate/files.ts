/** Media types of the certificate files the certificate operations output as binary data. */
export const PKCS12_MIME_TYPE = 'application/x-pkcs12';
export const PEM_MIME_TYPE = 'application/x-pem-file';

export const CERTIFICATE_FILES_HINT =
  "Binary output: 'pkcs12' (certificate and private key, protected by the PKCS#12 password), 'certificate' (PEM) and 'privateKey' (PEM, unencrypted: treat it as a secret)";
