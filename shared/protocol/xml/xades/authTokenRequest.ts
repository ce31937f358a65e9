/**
 * The `AuthTokenRequest` document signed for `POST /auth/xades-signature` (auth/schemy/schemat_auth_v2-0.xsd and
 * v2-1.xsd, CIRFMF/ksef-docs): building it from typed input, and reading it back (the sandbox's side). Both sides
 * apply the same value rules — the XSD patterns — so a request we build is one the sandbox reads.
 */
import type { Element } from '@xmldom/xmldom';
import { escapeXml } from '../xmlScanner';
import { KsefInputError } from '../../errors';
import type { ContextIdentifier, ContextIdentifierType } from '../../types';
import { childElements, textOf } from '../xmlDom';

export const AUTH_TOKEN_REQUEST_NAMESPACES = {
  '2.0': 'http://ksef.mf.gov.pl/auth/token/2.0',
  '2.1': 'http://ksef.mf.gov.pl/auth/token/2.1',
} as const;

/** 2.0 is what both official clients send; 2.1 differs only in (fixed) IP address patterns. */
export type AuthTokenRequestSchemaVersion = keyof typeof AUTH_TOKEN_REQUEST_NAMESPACES;

export type SubjectIdentifierType = 'certificateSubject' | 'certificateFingerprint';

export const SUBJECT_IDENTIFIER_TYPES: readonly SubjectIdentifierType[] = ['certificateSubject', 'certificateFingerprint'];

/** Client IPs allowed to use the issued tokens (same shape as `authorizationPolicy` of `POST /auth/ksef-token`). */
export interface AllowedIps {
  /** e.g. `192.168.0.1` (at most 10). */
  ip4Addresses?: string[];
  /** e.g. `222.111.0.1-222.111.0.255` (at most 10). */
  ip4Ranges?: string[];
  /** e.g. `192.168.1.0/24` (at most 10). */
  ip4Masks?: string[];
}

export interface AuthorizationPolicy {
  allowedIps: AllowedIps;
}

export interface AuthTokenRequest {
  /** From `POST /auth/challenge`, e.g. `20250604-CR-461EA5B000-537A6BA15D-D7`. */
  challenge: string;
  contextIdentifier: ContextIdentifier;
  subjectIdentifierType: SubjectIdentifierType;
  authorizationPolicy?: AuthorizationPolicy;
}

export interface BuildAuthTokenRequestOptions {
  /** Default `2.0`, like the official clients. */
  schemaVersion?: AuthTokenRequestSchemaVersion;
}

const CHALLENGE_PATTERN = /^\d{8}-CR-[A-F0-9]{10}-[A-F0-9]{10}-[A-F0-9]{2}$/;
const NIP_PATTERN = '[1-9]((\\d[1-9])|([1-9]\\d))\\d{7}';
const VAT_UE_PATTERN =
  '((AT)(U\\d{8})|(BE)([01]{1}\\d{9})|(BG)(\\d{9,10})|(CY)(\\d{8}[A-Z])|(CZ)(\\d{8,10})|(DE)(\\d{9})|(DK)(\\d{8})|(EE)(\\d{9})|(EL)(\\d{9})' +
  '|(ES)([A-Z]\\d{8}|\\d{8}[A-Z]|[A-Z]\\d{7}[A-Z])|(FI)(\\d{8})|(FR)[A-Z0-9]{2}\\d{9}|(HR)(\\d{11})|(HU)(\\d{8})|(IE)(\\d{7}[A-Z]{2}|\\d[A-Z0-9+*]\\d{5}[A-Z])' +
  '|(IT)(\\d{11})|(LT)(\\d{9}|\\d{12})|(LU)(\\d{8})|(LV)(\\d{11})|(MT)(\\d{8})|(NL)([A-Z0-9+*]{12})|(PT)(\\d{9})|(RO)(\\d{2,10})|(SE)(\\d{12})|(SI)(\\d{8})' +
  '|(SK)(\\d{10})|(XI)((\\d{9}|(\\d{12}))|(GD|HA)(\\d{3})))';

const CONTEXT_IDENTIFIER_RULES: Record<ContextIdentifierType, { pattern: RegExp; example: string }> = {
  Nip: { pattern: new RegExp(`^${NIP_PATTERN}$`), example: '5265877635' },
  InternalId: { pattern: new RegExp(`^${NIP_PATTERN}-\\d{5}$`), example: '5265877635-12345' },
  NipVatUe: { pattern: new RegExp(`^${NIP_PATTERN}-${VAT_UE_PATTERN}$`), example: '5265877635-ATU12345678' },
  PeppolId: { pattern: /^P[A-Z]{2}[0-9]{6}$/, example: 'PPL123456' },
};

const MAX_IPS_PER_KIND = 10;
const OCTET = '(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])';
const IPV4 = `${OCTET}\\.${OCTET}\\.${OCTET}\\.${OCTET}`;
const IPV4_PATTERN = new RegExp(`^${IPV4}$`);

/** Throws `KsefInputError` naming the first field that breaks the AuthTokenRequest schema rules. */
export function validateAuthTokenRequest(request: AuthTokenRequest, field = 'authTokenRequest'): void {
  if (typeof request.challenge !== 'string' || !CHALLENGE_PATTERN.test(request.challenge)) {
    fail(
      `${field}.challenge`,
      'must be the 36-character challenge returned by POST /auth/challenge, e.g. 20250604-CR-461EA5B000-537A6BA15D-D7',
    );
  }
  const context = request.contextIdentifier;
  const rule = context && CONTEXT_IDENTIFIER_RULES[context.type];
  if (!rule) {
    fail(`${field}.contextIdentifier.type`, `must be one of ${Object.keys(CONTEXT_IDENTIFIER_RULES).join(', ')}`);
  }
  if (typeof context.value !== 'string' || !rule.pattern.test(context.value)) {
    fail(`${field}.contextIdentifier.value`, `is not a valid ${context.type} identifier (expected e.g. ${rule.example})`);
  }
  if (!SUBJECT_IDENTIFIER_TYPES.includes(request.subjectIdentifierType)) {
    fail(`${field}.subjectIdentifierType`, `must be ${SUBJECT_IDENTIFIER_TYPES.join(' or ')}`);
  }
  if (request.authorizationPolicy !== undefined) validateAllowedIps(request.authorizationPolicy, `${field}.authorizationPolicy`);
}

export interface ValidateAllowedIpsOptions {
  /** Places in `ip4Addresses` kept free for an address added later, and why (for the message). */
  reservedIp4Addresses?: { count: number; reason: string };
  /**
   * How the messages name the policy's lists as a person sees them (the form's "Allowed IP addresses"); without it
   * they name the JSON paths under `field`, as KSeF's own validation details do. `field` always has the path.
   */
  label?: string;
}

/** The three lists of `AllowedIps` in a person's words. */
const IP_KIND_WORDS: Record<keyof AllowedIps, string> = {
  ip4Addresses: 'IPv4 addresses',
  ip4Ranges: 'IPv4 ranges',
  ip4Masks: 'IPv4 masks',
};

/** Checks an authorization policy against the AuthTokenRequest schema's IPv4 rules; errors name `field`. */
export function validateAllowedIps(policy: AuthorizationPolicy, field: string, options: ValidateAllowedIpsOptions = {}): void {
  const { label } = options;
  const allowedIps = policy?.allowedIps;
  if (!allowedIps || typeof allowedIps !== 'object') {
    fail(`${field}.allowedIps`, `${label ? 'are' : 'is'} required when an authorization policy is given`, label);
  }
  const check = (kind: keyof AllowedIps, isValid: (value: string) => boolean, example: string): void => {
    const values = allowedIps[kind];
    if (values === undefined) return;
    const list = `${field}.allowedIps.${kind}`;
    /** The list as the message names it: "Allowed IP addresses (IPv4 ranges)", or its path. */
    const named = label ? `${label} (${IP_KIND_WORDS[kind]})` : list;
    if (!Array.isArray(values)) fail(list, 'must be a list', named);
    const reserved = kind === 'ip4Addresses' ? options.reservedIp4Addresses : undefined;
    const max = MAX_IPS_PER_KIND - (reserved?.count ?? 0);
    if (values.length > max) {
      fail(list, `may hold at most ${max} entries${reserved ? ` ${reserved.reason}` : ''} (has ${values.length})`, named);
    }
    values.forEach((value, i) => {
      if (typeof value !== 'string' || !isValid(value)) {
        fail(
          `${list}[${i}]`,
          `is not valid: expected e.g. ${example}`,
          label ? `${named}: entry ${i + 1}${typeof value === 'string' ? ` (${value})` : ''}` : undefined,
        );
      }
    });
  };
  check('ip4Addresses', isIpv4Address, '192.168.0.1 (four decimal octets 0-255, no leading zeros)');
  check('ip4Ranges', isValidRange, '222.111.0.1-222.111.0.255 (first address not above the last)');
  check('ip4Masks', isValidMask, '192.168.1.0/24 (prefix length 0-32)');
}

/** Four decimal octets 0-255 without leading zeros, as the AuthTokenRequest schema's Ip4Address allows. */
export function isIpv4Address(value: string): boolean {
  return IPV4_PATTERN.test(value);
}

function isValidRange(value: string): boolean {
  const [from, to, ...rest] = value.split('-');
  return rest.length === 0 && IPV4_PATTERN.test(from) && IPV4_PATTERN.test(to ?? '') && ipToNumber(from) <= ipToNumber(to);
}

function isValidMask(value: string): boolean {
  const match = /^(.+)\/(0|[1-9]|[12][0-9]|3[0-2])$/.exec(value);
  return !!match && IPV4_PATTERN.test(match[1]);
}

function ipToNumber(ip: string): number {
  return ip.split('.').reduce((acc, octet) => acc * 256 + Number(octet), 0);
}

/** A `KsefInputError` for `field`, whose message names it `named` (default: the field's path). */
function fail(field: string, problem: string, named: string = field): never {
  throw new KsefInputError(`${named} ${problem}.`, { field });
}

/** The unsigned AuthTokenRequest XML (UTF-8 declaration, 2-space indentation, like the official C# client). */
export function buildAuthTokenRequestXml(request: AuthTokenRequest, options: BuildAuthTokenRequestOptions = {}): string {
  validateAuthTokenRequest(request);
  const version = options.schemaVersion ?? '2.0';
  const namespace = AUTH_TOKEN_REQUEST_NAMESPACES[version];
  if (!namespace) fail('schemaVersion', `must be ${Object.keys(AUTH_TOKEN_REQUEST_NAMESPACES).join(' or ')}`);
  const lines = [
    '<?xml version="1.0" encoding="utf-8"?>',
    `<AuthTokenRequest xmlns="${namespace}">`,
    `  <Challenge>${request.challenge}</Challenge>`,
    '  <ContextIdentifier>',
    `    <${request.contextIdentifier.type}>${escapeXml(request.contextIdentifier.value)}</${request.contextIdentifier.type}>`,
    '  </ContextIdentifier>',
    `  <SubjectIdentifierType>${request.subjectIdentifierType}</SubjectIdentifierType>`,
  ];
  const allowedIps = request.authorizationPolicy?.allowedIps;
  if (allowedIps) {
    lines.push('  <AuthorizationPolicy>', '    <AllowedIps>');
    for (const ip of allowedIps.ip4Addresses ?? []) lines.push(`      <Ip4Address>${ip}</Ip4Address>`);
    for (const range of allowedIps.ip4Ranges ?? []) lines.push(`      <Ip4Range>${range}</Ip4Range>`);
    for (const mask of allowedIps.ip4Masks ?? []) lines.push(`      <Ip4Mask>${mask}</Ip4Mask>`);
    lines.push('    </AllowedIps>', '  </AuthorizationPolicy>');
  }
  lines.push('</AuthTokenRequest>');
  return lines.join('\n');
}

/** The schema version of an AuthTokenRequest root element, or undefined when the element is not one. */
export function authTokenRequestVersion(element: Element): AuthTokenRequestSchemaVersion | undefined {
  if (element.localName !== 'AuthTokenRequest') return undefined;
  return (Object.keys(AUTH_TOKEN_REQUEST_NAMESPACES) as AuthTokenRequestSchemaVersion[]).find(
    (version) => AUTH_TOKEN_REQUEST_NAMESPACES[version] === element.namespaceURI,
  );
}

/**
 * Reads an AuthTokenRequest element (any ds:Signature child is ignored). Throws `KsefInputError` naming the
 * element when the structure or a value breaks the schema.
 */
export function readAuthTokenRequest(element: Element): { request: AuthTokenRequest; schemaVersion: AuthTokenRequestSchemaVersion } {
  const schemaVersion = authTokenRequestVersion(element);
  if (!schemaVersion) {
    fail('AuthTokenRequest', `must be the root element in namespace ${Object.values(AUTH_TOKEN_REQUEST_NAMESPACES).join(' or ')}`);
  }
  const namespace = AUTH_TOKEN_REQUEST_NAMESPACES[schemaVersion];
  const children = childElements(element).filter((e) => e.namespaceURI === namespace);
  const unexpected = childElements(element).find((e) => e.namespaceURI !== namespace && e.localName !== 'Signature');
  if (unexpected) fail(`AuthTokenRequest/${unexpected.nodeName}`, 'is not allowed by the schema');
  const names = children.map((e) => e.localName ?? '');
  if (!/^Challenge,ContextIdentifier,SubjectIdentifierType(,AuthorizationPolicy)?$/.test(names.join(','))) {
    fail(
      'AuthTokenRequest',
      `must contain Challenge, ContextIdentifier, SubjectIdentifierType and optionally AuthorizationPolicy, in this order (found ${names.join(', ') || 'nothing'})`,
    );
  }
  const [challenge, context, subject, policy] = children;
  const contextChildren = childElements(context);
  if (
    contextChildren.length !== 1 ||
    contextChildren[0].namespaceURI !== namespace ||
    !((contextChildren[0].localName ?? '') in CONTEXT_IDENTIFIER_RULES)
  ) {
    fail('AuthTokenRequest/ContextIdentifier', `must contain exactly one of ${Object.keys(CONTEXT_IDENTIFIER_RULES).join(', ')}`);
  }
  const request: AuthTokenRequest = {
    challenge: textOf(challenge),
    contextIdentifier: { type: contextChildren[0].localName as ContextIdentifierType, value: textOf(contextChildren[0]) },
    subjectIdentifierType: textOf(subject) as SubjectIdentifierType,
  };
  if (policy) request.authorizationPolicy = { allowedIps: readAllowedIps(policy, namespace) };
  validateAuthTokenRequest(request, 'AuthTokenRequest');
  return { request, schemaVersion };
}

function readAllowedIps(policy: Element, namespace: string): AllowedIps {
  const [allowedIps, ...rest] = childElements(policy);
  if (!allowedIps || rest.length > 0 || allowedIps.localName !== 'AllowedIps' || allowedIps.namespaceURI !== namespace) {
    fail('AuthTokenRequest/AuthorizationPolicy', 'must contain exactly one AllowedIps element');
  }
  const result: AllowedIps = {};
  const kinds: Record<string, keyof AllowedIps> = { Ip4Address: 'ip4Addresses', Ip4Range: 'ip4Ranges', Ip4Mask: 'ip4Masks' };
  for (const entry of childElements(allowedIps)) {
    const kind = entry.namespaceURI === namespace ? kinds[entry.localName ?? ''] : undefined;
    if (!kind) fail(`AuthTokenRequest/AuthorizationPolicy/AllowedIps/${entry.nodeName}`, 'is not allowed by the schema');
    (result[kind] ??= []).push(textOf(entry));
  }
  return result;
}
