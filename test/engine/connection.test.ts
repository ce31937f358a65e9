import { clientOptionsFromSettings, type EnvironmentProvider } from '../../shared';
import { restorePemLineBreaks } from '../../shared/protocol/x509/keyMaterial';

/** The host's sandbox as the forms hand it in; never connected to here. */
const sandbox: EnvironmentProvider = {
  name: 'sandbox',
  connect: () => Promise.reject(new Error('not connected in these tests')),
};

describe('connection settings of the host forms', () => {
  it('defaults to the sandbox the host hands in, with the KSeF-token method, and fills nothing it was not given', () => {
    expect(clientOptionsFromSettings({}, { sandbox })).toEqual({ environment: sandbox, credentials: { method: 'ksefToken' } });
    expect(clientOptionsFromSettings({ environment: 'sandbox' }, { sandbox }).environment).toBe(sandbox);
  });

  it('maps a KSeF-token connection, trimming its text fields and ignoring the certificate fields', () => {
    const options = clientOptionsFromSettings(
      {
        environment: 'custom',
        baseUrl: ' https://ksef.example/v2 ',
        contextIdentifierType: 'InternalId',
        contextIdentifierValue: ' 1234563218-00001 ',
        ksefToken: ' secret-token ',
        pkcs12: 'ignored for the token method',
      },
      { sandbox },
    );
    expect(options).toEqual({
      environment: 'custom',
      baseUrl: 'https://ksef.example/v2',
      credentials: { method: 'ksefToken', contextIdentifier: { type: 'InternalId', value: '1234563218-00001' }, ksefToken: 'secret-token' },
    });
  });

  it('maps PKCS#12 and PEM certificates, keeping passwords exactly as typed', () => {
    expect(
      clientOptionsFromSettings(
        {
          environment: 'test',
          authenticationMethod: 'certificate',
          contextIdentifierValue: '1234563218',
          pkcs12: 'MIIB',
          pkcs12Password: ' pass ',
        },
        { sandbox },
      ),
    ).toEqual({
      environment: 'test',
      credentials: {
        method: 'certificate',
        contextIdentifier: { type: 'Nip', value: '1234563218' },
        certificate: { pkcs12: 'MIIB', password: ' pass ' },
        subjectIdentifierType: 'certificateSubject',
      },
    });
    const pem = clientOptionsFromSettings(
      {
        authenticationMethod: 'certificate',
        certificateFormat: 'pem',
        certificatePem: 'CERT',
        privateKeyPem: 'KEY',
        subjectIdentifierType: 'certificateFingerprint',
      },
      { sandbox },
    );
    expect(pem.credentials).toEqual({
      method: 'certificate',
      certificate: { certificatePem: 'CERT', privateKeyPem: 'KEY', passphrase: undefined },
      subjectIdentifierType: 'certificateFingerprint',
    });
  });

  it('sorts the allowed IPs of a certificate connection into addresses, ranges and masks, and picks the schema', () => {
    const options = clientOptionsFromSettings(
      {
        authenticationMethod: 'certificate',
        pkcs12: 'MIIB',
        authTokenRequestSchema: '2.1',
        allowedIps: ' 203.0.113.7, 198.51.100.1-198.51.100.99\n192.0.2.0/24 ;203.0.113.8 ',
        allowCurrentIp: true,
      },
      { sandbox },
    );
    expect(options.credentials).toMatchObject({
      authTokenRequestSchema: '2.1',
      authorizationPolicy: {
        allowedIps: { ip4Addresses: ['203.0.113.7', '203.0.113.8'], ip4Ranges: ['198.51.100.1-198.51.100.99'], ip4Masks: ['192.0.2.0/24'] },
        allowChallengeClientIp: true,
      },
    });
    const currentOnly = clientOptionsFromSettings(
      { authenticationMethod: 'certificate', pkcs12: 'MIIB', allowedIps: '  ', allowCurrentIp: true },
      { sandbox },
    );
    expect(currentOnly.credentials).toMatchObject({ authorizationPolicy: { allowChallengeClientIp: true } });
    expect(currentOnly.credentials).not.toHaveProperty('authorizationPolicy.allowedIps');
    const none = clientOptionsFromSettings(
      { authenticationMethod: 'certificate', pkcs12: 'MIIB', allowedIps: '', allowCurrentIp: false },
      { sandbox },
    );
    expect(none.credentials).not.toHaveProperty('authorizationPolicy');
    expect(none.credentials).not.toHaveProperty('authTokenRequestSchema');
  });

  it('re-wraps a PEM block pasted into a single-line field', () => {
    const flattened = '-----BEGIN CERTIFICATE----- ' + 'A'.repeat(70) + ' BBBB -----END CERTIFICATE-----';
    expect(restorePemLineBreaks(flattened)).toBe(
      `-----BEGIN CERTIFICATE-----\n${'A'.repeat(64)}\n${'A'.repeat(6)}BBBB\n-----END CERTIFICATE-----\n`,
    );
    const wrapped = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n';
    expect(restorePemLineBreaks(wrapped)).toBe(wrapped);
  });
});
