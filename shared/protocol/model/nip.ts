const NIP_WEIGHTS = [6, 5, 7, 2, 3, 4, 5, 6, 7];

/** True when `nip` is ten digits with a correct check digit (the test KSeF environments do not require it). */
export function isValidNip(nip: string): boolean {
  if (!/^\d{10}$/.test(nip)) return false;
  const sum = NIP_WEIGHTS.reduce((acc, weight, i) => acc + weight * Number(nip[i]), 0);
  const check = sum % 11;
  return check !== 10 && check === Number(nip[9]);
}

/** Completes nine digits with the check digit; undefined when no check digit exists for them. */
export function completeNip(firstNine: string): string | undefined {
  const sum = NIP_WEIGHTS.reduce((acc, weight, i) => acc + weight * Number(firstNine[i]), 0);
  const check = sum % 11;
  return check === 10 ? undefined : firstNine + String(check);
}
