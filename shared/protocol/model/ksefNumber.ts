import { crc8Hex } from './crc8';

/** 9999999999-RRRRMMDD-FFFFFFFFFFFF-CC: seller NIP, acceptance date, 12 hex digits, CRC-8 of the first 32 characters. */
export const KSEF_NUMBER_PATTERN = /^(\d{10})-(\d{8})-([0-9A-F]{12})-([0-9A-F]{2})$/;

export function formatKsefNumber(sellerNip: string, acceptedAt: Date, technicalPart: string): string {
  const body = `${sellerNip}-${compactDate(acceptedAt)}-${technicalPart.toUpperCase()}`;
  return `${body}-${crc8Hex(body)}`;
}

export function isValidKsefNumber(value: string): boolean {
  const match = KSEF_NUMBER_PATTERN.exec(value.toUpperCase());
  return !!match && crc8Hex(value.slice(0, 32).toUpperCase()) === match[4];
}

export function compactDate(date: Date): string {
  return date.toISOString().slice(0, 10).replace(/-/g, '');
}
