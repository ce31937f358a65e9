import { KsefError } from '../http/errors';

/** Any error as the JSON a result carries (`error`, `upoError`) or a log line quotes as its reason. */
export function errorJson(error: unknown): Record<string, unknown> {
  if (error instanceof KsefError) return error.toJSON();
  return { name: 'Error', message: error instanceof Error ? error.message : String(error) };
}
