/**
 * The authorization policy of an authentication (AuthTokenRequest `AuthorizationPolicy/AllowedIps`, or
 * `authorizationPolicy.allowedIps` of POST /auth/ksef-token): the client IPs from which its access and refresh
 * tokens may be used (uwierzytelnianie.md); other addresses get 403 `ip-not-allowed` (open-api.json, ForbiddenProblemDetails).
 */
import { BlockList } from 'node:net';
import { validateAllowedIps, type AllowedIps } from '../../shared/protocol/xml/xades/authTokenRequest';
import { KsefInputError } from '../../shared/protocol/errors';
import { inputValidationError } from '../http/errors';
import { requireObject } from '../http/input';

/**
 * The addresses a policy allows, or undefined when it restricts nothing. A policy listing no address at all is
 * read as no restriction: KSeF does not document it, and locking every client out is no use to anyone.
 */
export function restrictingAllowedIps(allowedIps: AllowedIps | null | undefined): AllowedIps | undefined {
  if (!allowedIps) return undefined;
  const listed = (['ip4Addresses', 'ip4Ranges', 'ip4Masks'] as const).filter((kind) => (allowedIps[kind]?.length ?? 0) > 0);
  return listed.length > 0 ? allowedIps : undefined;
}

/** The `authorizationPolicy` of a JSON request, checked by the AuthTokenRequest schema's IPv4 rules (21405 otherwise). */
export function allowedIpsOfJson(policy: unknown): AllowedIps | undefined {
  if (policy == null) return undefined;
  const raw = requireObject(policy, 'authorizationPolicy').allowedIps;
  if (raw == null) return undefined;
  // JSON may send null for a list it leaves out (the spec marks them nullable); the schema rules want them absent.
  const entries = Object.entries(requireObject(raw, 'authorizationPolicy.allowedIps')).filter(([, value]) => value !== null);
  const allowedIps = Object.fromEntries(entries) as AllowedIps;
  try {
    validateAllowedIps({ allowedIps }, 'authorizationPolicy');
  } catch (error) {
    if (error instanceof KsefInputError) throw inputValidationError([error.message]);
    throw error;
  }
  return restrictingAllowedIps(allowedIps);
}

export function allowsClientIp(allowedIps: AllowedIps, clientIp: string): boolean {
  const list = new BlockList();
  for (const address of allowedIps.ip4Addresses ?? []) list.addAddress(address, 'ipv4');
  for (const range of allowedIps.ip4Ranges ?? []) {
    const [from, to] = range.split('-');
    list.addRange(from, to, 'ipv4');
  }
  for (const mask of allowedIps.ip4Masks ?? []) {
    const [network, prefix] = mask.split('/');
    list.addSubnet(network, Number(prefix), 'ipv4');
  }
  return list.check(clientIp, clientIp.includes(':') ? 'ipv6' : 'ipv4');
}
