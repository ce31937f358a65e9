/** KSeF tokens as KSeF keeps them (tokeny-ksef.md, CIRFMF/ksef-docs). */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { newReferenceNumber } from '../../shared/protocol/model/referenceNumber';
import type { ContextIdentifier, KsefTokenPermission, KsefTokenStatus } from '../../shared/protocol/types';
import type { SubjectIdentifier } from '../auth/records';

export interface KsefTokenRecord {
  referenceNumber: string;
  /** The secret `{ref}|{contextType}-{contextValue}|{64 hex}`; never logged or returned after creation. */
  secret: string;
  contextIdentifier: ContextIdentifier;
  authorIdentifier: SubjectIdentifier;
  description: string;
  requestedPermissions: KsefTokenPermission[];
  dateCreated: Date;
  lastUseDate?: Date;
  status: KsefTokenStatus;
  statusDetails?: string[];
}

export interface NewKsefToken {
  contextIdentifier: ContextIdentifier;
  authorIdentifier: SubjectIdentifier;
  description: string;
  permissions: KsefTokenPermission[];
  now: Date;
  status?: KsefTokenStatus;
}

/** A new token with its secret `{ref}|{contextType}-{contextValue}|{64 hex}` (tokeny-ksef.md). */
export function newKsefTokenRecord(input: NewKsefToken): KsefTokenRecord {
  const referenceNumber = newReferenceNumber('EC', input.now);
  const contextPart = `${input.contextIdentifier.type.charAt(0).toLowerCase()}${input.contextIdentifier.type.slice(1)}-${input.contextIdentifier.value}`;
  return {
    referenceNumber,
    secret: `${referenceNumber}|${contextPart}|${randomBytes(32).toString('hex')}`,
    contextIdentifier: input.contextIdentifier,
    authorIdentifier: input.authorIdentifier,
    description: input.description,
    requestedPermissions: input.permissions,
    dateCreated: input.now,
    status: input.status ?? 'Active',
  };
}

/** Whether `secret` is exactly the token's secret, compared in constant time. */
export function hasSecret(record: KsefTokenRecord, secret: string): boolean {
  const given = Buffer.from(secret, 'utf8');
  const known = Buffer.from(record.secret, 'utf8');
  return given.length === known.length && timingSafeEqual(given, known);
}
