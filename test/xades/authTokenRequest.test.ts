/** Building the AuthTokenRequest from typed input and reading it back; bad input names the field. */
import { KsefInputError } from '../../shared/http/errors';
import { buildAuthTokenRequestXml, readAuthTokenRequest, type AuthTokenRequest } from '../../shared/protocol/xml/xades/authTokenRequest';
import { parseXml } from '../../shared/protocol/xml/xmlDom';
import { authRequest } from './fixtures';

describe('buildAuthTokenRequestXml', () => {
  it('writes what the official examples show (namespace 2.0 by default)', () => {
    expect(buildAuthTokenRequestXml(authRequest({ contextIdentifier: { type: 'Nip', value: '5265877635' } }))).toBe(
      [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<AuthTokenRequest xmlns="http://ksef.mf.gov.pl/auth/token/2.0">',
        '  <Challenge>20250604-CR-461EA5B000-537A6BA15D-D7</Challenge>',
        '  <ContextIdentifier>',
        '    <Nip>5265877635</Nip>',
        '  </ContextIdentifier>',
        '  <SubjectIdentifierType>certificateSubject</SubjectIdentifierType>',
        '</AuthTokenRequest>',
      ].join('\n'),
    );
  });

  it('round-trips every context type, both subject types, the policy and schema 2.1', () => {
    const requests: AuthTokenRequest[] = [
      authRequest({
        contextIdentifier: { type: 'InternalId', value: '5265877635-12345' },
        subjectIdentifierType: 'certificateFingerprint',
      }),
      authRequest({ contextIdentifier: { type: 'NipVatUe', value: '5265877635-DE123456789' } }),
      authRequest({
        contextIdentifier: { type: 'PeppolId', value: 'PPL123456' },
        authorizationPolicy: {
          allowedIps: { ip4Addresses: ['192.168.0.1'], ip4Ranges: ['10.0.0.1-10.0.0.9'], ip4Masks: ['0.0.0.0/0', '192.168.1.0/24'] },
        },
      }),
    ];
    for (const request of requests) {
      for (const schemaVersion of ['2.0', '2.1'] as const) {
        const xml = buildAuthTokenRequestXml(request, { schemaVersion });
        expect(readAuthTokenRequest(parseXml(xml).documentElement!)).toEqual({ request, schemaVersion });
      }
    }
  });

  const policy = (allowedIps: Record<string, string[]>): Partial<AuthTokenRequest> => ({ authorizationPolicy: { allowedIps } });
  it.each([
    ['challenge', { challenge: '20250604-CR-461ea5b000-537A6BA15D-D7' }, 'authTokenRequest.challenge'],
    ['context type', { contextIdentifier: { type: 'Pesel', value: '88102341294' } }, 'authTokenRequest.contextIdentifier.type'],
    ['NIP', { contextIdentifier: { type: 'Nip', value: '0123456789' } }, 'authTokenRequest.contextIdentifier.value'],
    ['InternalId', { contextIdentifier: { type: 'InternalId', value: '5265877635' } }, 'authTokenRequest.contextIdentifier.value'],
    ['NipVatUe', { contextIdentifier: { type: 'NipVatUe', value: '5265877635-XX123' } }, 'authTokenRequest.contextIdentifier.value'],
    ['subject identifier type', { subjectIdentifierType: 'pesel' }, 'authTokenRequest.subjectIdentifierType'],
    ['missing allowedIps', { authorizationPolicy: {} }, 'authTokenRequest.authorizationPolicy.allowedIps'],
    [
      'IPv4 address octet',
      policy({ ip4Addresses: ['192.168.0.1', '256.1.1.1'] }),
      'authTokenRequest.authorizationPolicy.allowedIps.ip4Addresses[1]',
    ],
    [
      'IPv4 address leading zero',
      policy({ ip4Addresses: ['192.168.01.1'] }),
      'authTokenRequest.authorizationPolicy.allowedIps.ip4Addresses[0]',
    ],
    ['reversed range', policy({ ip4Ranges: ['10.0.0.9-10.0.0.1'] }), 'authTokenRequest.authorizationPolicy.allowedIps.ip4Ranges[0]'],
    ['mask prefix', policy({ ip4Masks: ['10.0.0.0/33'] }), 'authTokenRequest.authorizationPolicy.allowedIps.ip4Masks[0]'],
    [
      'too many addresses',
      policy({ ip4Addresses: Array.from({ length: 11 }, (_, i) => `10.0.0.${i}`) }),
      'authTokenRequest.authorizationPolicy.allowedIps.ip4Addresses',
    ],
  ])('rejects a bad %s, naming the field', (_what, override, field) => {
    let caught: unknown;
    try {
      buildAuthTokenRequestXml({ ...authRequest(), ...(override as Partial<AuthTokenRequest>) });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(KsefInputError);
    expect((caught as KsefInputError).field).toBe(field);
    expect((caught as KsefInputError).message).toContain(field);
  });
});

describe('readAuthTokenRequest', () => {
  it.each([
    [
      'elements out of order',
      (xml: string) => xml.replace(/(<Challenge>.*<\/Challenge>)([\s\S]*)(<SubjectIdentifierType>)/, '$2$1$3'),
      /in this order/,
    ],
    [
      'two context identifiers',
      (xml: string) => xml.replace('</ContextIdentifier>', '<Nip>5265877635</Nip></ContextIdentifier>'),
      /exactly one of/,
    ],
    [
      'a foreign element',
      (xml: string) => xml.replace('</AuthTokenRequest>', '<x:Extra xmlns:x="urn:x"/></AuthTokenRequest>'),
      /x:Extra is not allowed/,
    ],
  ])('rejects %s', (_what, change, message) => {
    const xml = change(buildAuthTokenRequestXml(authRequest()));
    expect(() => readAuthTokenRequest(parseXml(xml).documentElement!)).toThrow(message);
  });
});
