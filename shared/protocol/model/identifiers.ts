import type { ContextIdentifierType, KsefTokenPermission } from '../types';

/** The context identifier types of `AuthenticationContextIdentifierType` (open-api.json). */
export const CONTEXT_TYPES: readonly ContextIdentifierType[] = ['Nip', 'InternalId', 'NipVatUe', 'PeppolId'];

/** The permissions a KSeF token can carry (`TokenPermissionType` of open-api.json). */
export const KSEF_TOKEN_PERMISSIONS: readonly KsefTokenPermission[] = [
  'InvoiceRead',
  'InvoiceWrite',
  'CredentialsRead',
  'CredentialsManage',
  'SubunitManage',
  'EnforcementOperations',
  'Introspection',
];
