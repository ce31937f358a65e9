/** Types of the KSeF tokens chapter ("Tokeny KSeF" of open-api.json, CIRFMF/ksef-api). */
import type { ContextIdentifier, KsefTokenPermission, KsefTokenStatus } from '../protocol/types';

export interface GenerateKsefTokenOptions {
  permissions: KsefTokenPermission[];
  /** 5 to 256 characters; helps find the token later. */
  description: string;
  /** Wait until KSeF has activated the token (default true). */
  waitUntilActive?: boolean;
  /** How long to wait for activation (default 60 s). */
  activationTimeoutMs?: number;
}

export interface GeneratedKsefToken {
  referenceNumber: string;
  /** The token secret. KSeF shows it only this once: store it as a secret. */
  token: string;
  status: KsefTokenStatus;
}

/** A KSeF token's metadata (`GET /tokens`, `GET /tokens/{ref}`); never its secret. */
export interface KsefTokenInfo {
  referenceNumber: string;
  authorIdentifier: { type: 'Nip' | 'Pesel' | 'Fingerprint'; value: string };
  contextIdentifier: ContextIdentifier;
  description: string;
  requestedPermissions: KsefTokenPermission[];
  dateCreated: string;
  lastUseDate?: string;
  status: KsefTokenStatus;
  statusDetails?: string[];
}

export interface ListKsefTokensOptions {
  status?: KsefTokenStatus | KsefTokenStatus[];
  /** Case-insensitive part of the description (at least 3 characters). */
  description?: string;
  /** Case-insensitive part of the author's identifier (at least 3 characters). */
  authorIdentifier?: string;
  authorIdentifierType?: 'Nip' | 'Pesel' | 'Fingerprint';
  /** Page size asked from KSeF (10-100, default 100). */
  pageSize?: number;
}
