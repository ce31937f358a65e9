import { clientOptionsFromSettings } from '../../shared';
import { restorePemLineBreaks } from '../../shared/certificates/keyMaterial';

describe('connection settings of the host forms', () => {
  it('defaults to the sandbox with the KSeF-token method and fills nothing it was not given', () => {
    expect(clientOptionsFromSettings({})).toEqual({ environment: 'sandbox', credentials: { method: 'ksefToken' } });
  });

  it('maps a KSeF-token connection, trimming its text fields and ignoring the certificate fields', () => {
    const options = clientOptionsFromSettings({
      environment: 'custom',
      baseUrl: ' https://ksef.example/v2 ',
      contextIdentifierType: 'InternalId',
      contextIdentifierValue: ' 1234563218-00001 ',
      ksefToken: ' secret-token ',
      pkcs12: 'ignored for the token method',
    });
    expect(options).toEqual({
      environment: 'custom',
      baseUrl: 'https://ksef.example/v2',
      credentials: { method: 'ksefToken', contextIdentifier: { type: 'InternalId', value: '1234563218-00001' }, ksefToken: 'secret-token' },
    });
  });

  it('maps PKCS#12 and PEM certificates, keeping passwords exactly as typed', () => {
    expect(
      clientOptionsFromSettings({ environment: 'test', authenticationMethod: 'certificate', contextIdentifierValue: '1234563218', pkcs12: 'MIIB', pkcs12Password: ' pass ' }),
    ).toEqual({
      environment: 'test',
      credentials: {
        method: 'certificate',
        contextIdentifier: { type: 'Nip', value: '1234563218' },
        certificate: { pkcs12: 'MIIB', password: ' pass ' },
        subjectIdentifierType: 'certificateSubject',
      },
    });
    const pem = clientOptionsFromSettings({
      authenticationMethod: 'certificate',
      certificateFormat: 'pem',
      certificatePem: 'CERT',
      privateKeyPem: 'KEY',
      subjectIdentifierType: 'certificateFingerprint',
    });
    expect(pem.credentials).toEqual({
      method: 'certificate',
      certificate: { certificatePem: 'CERT', privateKeyPem: 'KEY', passphrase: undefined },
      subjectIdentifierType: 'certificateFingerprint',
    });
  });

  it('re-wraps a PEM block pasted into a single-line field', () => {
    const flattened = '-----BEGIN CERTIFICATE----- ' + 'A'.repeat(70) + ' BBBB -----END CERTIFICATE-----';
    expect(restorePemLineBreaks(flattened)).toBe(`-----BEGIN CERTIFICATE-----\n${'A'.repeat(64)}\n${'A'.repeat(6)}BBBB\n-----END CERTIFICATE-----\n`);
    const wrapped = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n';
    expect(restorePemLineBreaks(wrapped)).toBe(wrapped);
  });
});
