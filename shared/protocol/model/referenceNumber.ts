import { randomBytes } from 'node:crypto';
import { crc8Hex } from './crc8';
import { compactDate } from './ksefNumber';

/**
 * The two-letter object types of KSeF reference numbers, as the examples of open-api.json (CIRFMF/ksef-api) use them:
 * CR challenge, AU authentication, SO/SB online/batch session, EE invoice, EU UPO page, EC KSeF token, EG permission
 * operation, EH export; CE, for certificate enrollments, is ours (the contract shows none of its own).
 */
export type ReferenceType = 'CR' | 'AU' | 'SO' | 'SB' | 'EE' | 'EU' | 'EC' | 'EG' | 'EH' | 'CE';

export const REFERENCE_NUMBER_PATTERN = /^(\d{8})-([0-9A-Z]{2})-([0-9A-F]{10})-([0-9A-F]{10})-([0-9A-F]{2})$/;

/** YYYYMMDD-TT-XXXXXXXXXX-XXXXXXXXXX-CC with the CRC-8 over the first 33 characters. */
export function newReferenceNumber(type: ReferenceType, at: Date = new Date()): string {
  const first = randomBytes(4).toString('hex').toUpperCase().slice(0, 7) + '000';
  const second = randomBytes(5).toString('hex').toUpperCase();
  const body = `${compactDate(at)}-${type}-${first}-${second}`;
  return `${body}-${crc8Hex(body)}`;
}

export function isValidReferenceNumber(value: string): boolean {
  const match = REFERENCE_NUMBER_PATTERN.exec(value);
  return !!match && crc8Hex(value.slice(0, 33)) === match[5];
}
