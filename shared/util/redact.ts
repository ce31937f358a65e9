/**
 * Removes anything that looks like a credential from text the engine did not write itself (error bodies of KSeF or
 * of a gateway in front of it), so an echoed `Authorization` header or token never reaches a message, a log or an
 * output. KSeF's own identifiers (reference numbers, KSeF numbers, trace ids, UUIDs) and API paths stay readable.
 */

/** What stands where a secret was. */
export const REMOVED = '[removed]';

/** `Bearer <token>` / `Basic <credentials>`, as an echoed Authorization header carries them. */
const AUTHORIZATION_VALUE = /\b(Bearer|Basic)(\s+)[^\s"'<>,;]+/gi;
/** A KSeF token secret, `<reference number>|<context>|<hex secret>`. */
const KSEF_TOKEN = /[^\s|"'<>]+\|[^\s|"'<>]+\|[0-9A-Fa-f]{16,}/g;
/** A JWT or any piece of one: its header always starts with `eyJ` (Base64url of `{"`). */
const JWT = /eyJ[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]*){0,2}/g;
/** Candidates for Base64, Base64url or hex secrets. */
const LONG_RUN = /[A-Za-z0-9+/=_-]{24,}/g;

export function redactSecrets(text: string): string {
  return text
    .replace(AUTHORIZATION_VALUE, `$1$2${REMOVED}`)
    .replace(KSEF_TOKEN, REMOVED)
    .replace(JWT, REMOVED)
    .replace(LONG_RUN, (run) => (looksSecret(run) ? REMOVED : run));
}

/**
 * Whether a run of Base64/hex characters is key material rather than an identifier or a path. Identifiers and
 * paths are short pieces joined by `-` or `/` (`20250625-SO-2C3E6C8000-B67F415CDC-2C`, `/sessions/online`), and a
 * trace id is 32 hex digits; secrets are long unbroken pieces, or random mixes of both letter cases and digits.
 */
function looksSecret(run: string): boolean {
  return run.split(/[/-]/).some((piece) => {
    if (/^[0-9A-Fa-f]+$/.test(piece)) return piece.length >= 40;
    return piece.length >= 24 || (piece.length >= 16 && /[a-z]/.test(piece) && /[A-Z]/.test(piece) && /\d/.test(piece));
  });
}

/** `redactSecrets` over every string inside a JSON value. */
export function redactJson<T>(value: T): T {
  if (typeof value === 'string') return redactSecrets(value) as T;
  if (Array.isArray(value)) return value.map((item) => redactJson(item)) as T;
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, redactJson(item)])) as T;
  }
  return value;
}

/** Characters of a foreign body quoted in a message: enough to recognise a gateway's page, no more. */
const EXCERPT_LENGTH = 120;
/** How much of the body is read for the excerpt: a page's first words are near its start, and the regular expressions stay cheap. */
const EXCERPT_SOURCE_LENGTH = 65_536;

/**
 * The start of a body that is not the JSON KSeF documents (an HTML or text page of KSeF or of a gateway) as one
 * short line: markup and whitespace collapsed, secrets removed before it is cut, so no piece of a token survives
 * the cut. Undefined when nothing readable is left.
 */
export function bodyExcerpt(body: string): string | undefined {
  const text = redactSecrets(
    body
      .slice(0, EXCERPT_SOURCE_LENGTH)
      .replace(/<(script|style)\b[\s\S]*?<\/\1\s*>/gi, ' ')
      .replace(/<[^>]*>/g, ' ')
      .replace(/\s+/g, ' ')
      .trim(),
  );
  if (text === '') return undefined;
  if (text.length <= EXCERPT_LENGTH) return text;
  const cut = text.slice(0, EXCERPT_LENGTH - 1);
  const wordEnd = cut.lastIndexOf(' ');
  return `${wordEnd > EXCERPT_LENGTH / 2 ? cut.slice(0, wordEnd) : cut}…`;
}
