/**
 * What a leak of a PEM secret (a private key) looks like in logs, messages and outputs: any line of its Base64
 * body (JSON text escapes the line breaks, so the PEM as a whole would never be found there) or the body in one
 * piece (DER as Base64).
 */
export function pemSecretParts(pem: string): string[] {
  const lines = pem
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('-----') && !line.includes(':'));
  if (lines.length === 0) throw new Error('not a PEM block with a Base64 body');
  // A short last line (a few characters) could turn up anywhere by chance; the whole body still contains it.
  return [...lines.filter((line) => line.length >= 16), lines.join('')];
}

/** Fails when `text` contains any part of the PEM's body. */
export function expectNoPemSecret(text: string, pem: string): void {
  for (const part of pemSecretParts(pem)) expect(text).not.toContain(part);
}
