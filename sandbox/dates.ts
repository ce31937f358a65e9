/** Date-times the way KSeF writes them: ISO-8601 with an explicit `+00:00` offset. */
export function formatDateTime(date: Date): string {
  return date.toISOString().replace('Z', '+00:00');
}

const WARSAW_DAY = new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Warsaw', year: 'numeric', month: '2-digit', day: '2-digit' });

/** The calendar day (YYYY-MM-DD) of `date` in Poland, which decides automatic offline mode (offline/automatyczne-okreslanie-trybu-offline.md). */
export function warsawDay(date: Date): string {
  return WARSAW_DAY.format(date);
}

export const MINUTE_MS = 60_000;
export const HOUR_MS = 60 * MINUTE_MS;
export const DAY_MS = 24 * HOUR_MS;
