import { crc8Hex } from '../../shared/protocol/model/crc8';
import { formatKsefNumber, isValidKsefNumber } from '../../shared/protocol/model/ksefNumber';
import { isValidNip, completeNip } from '../../shared/protocol/model/nip';
import { isValidReferenceNumber, newReferenceNumber } from '../../shared/protocol/model/referenceNumber';

describe('KSeF identifiers', () => {
  it('computes the CRC-8 of official KSeF numbers and reference numbers', () => {
    expect(crc8Hex('5265877635-20250826-0100001AF629')).toBe('AF');
    expect(isValidKsefNumber('5265877635-20250916-0200A0D6723E-C2')).toBe(true);
    expect(isValidKsefNumber('5265877635-20250916-0200A0D6723E-C3')).toBe(false);
    expect(isValidReferenceNumber('20250514-AU-2DFC46C000-3AC6D5877F-D4')).toBe(true);
    expect(isValidReferenceNumber('20251128-EE-3177A16000-AF8B57869F-0D')).toBe(true);
    expect(isValidReferenceNumber('20251128-EE-3177A16000-AF8B57869F-0E')).toBe(false);
  });

  it('generates numbers that carry a valid checksum', () => {
    const at = new Date('2026-03-04T10:00:00Z');
    const ref = newReferenceNumber('SO', at);
    expect(ref).toMatch(/^20260304-SO-[0-9A-F]{7}000-[0-9A-F]{10}-[0-9A-F]{2}$/);
    expect(isValidReferenceNumber(ref)).toBe(true);
    const ksef = formatKsefNumber('1234563218', at, '0100ABCDEF12');
    expect(ksef.startsWith('1234563218-20260304-0100ABCDEF12-')).toBe(true);
    expect(isValidKsefNumber(ksef)).toBe(true);
  });

  it('checks NIP check digits', () => {
    expect(isValidNip('1234563218')).toBe(true);
    expect(isValidNip('1234563219')).toBe(false);
    expect(isValidNip('123456321')).toBe(false);
    expect(completeNip('123456321')).toBe('1234563218');
  });
});
