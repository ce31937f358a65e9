/** Types of the auth sessions chapter ("Aktywne sesje" of open-api.json, CIRFMF/ksef-api). */
import type { StatusInfo } from '../protocol/types';

/** One authentication session of the context (`GET /auth/sessions`). */
export interface AuthSessionInfo {
  referenceNumber: string;
  /** True for the session of the tokens this client uses. */
  isCurrent?: boolean;
  startDate: string;
  authenticationMethod: string;
  authenticationMethodInfo: { category: string; code: string; displayName: string };
  status: StatusInfo;
  isTokenRedeemed?: boolean;
  lastTokenRefreshDate?: string;
  refreshTokenValidUntil?: string;
}

export interface ListAuthSessionsOptions {
  /** Page size asked from KSeF (10-100, default 100). */
  pageSize?: number;
}
