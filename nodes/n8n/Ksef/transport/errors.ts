import type { INode, JsonObject } from 'n8n-workflow';
import { NodeApiError, NodeOperationError } from 'n8n-workflow';
import {
  KsefError,
  KsefForbiddenError,
  KsefInputError,
  KsefNetworkError,
  KsefRateLimitError,
  KsefTimeoutError,
} from '../../../../shared/http/errors';

/** What to do about each kind of engine error, in words an n8n user can act on. */
function hintFor(error: KsefError): string | undefined {
  if (error instanceof KsefForbiddenError) {
    return "The KSeF token lacks a permission for this operation (sending needs 'InvoiceWrite'). Generate a token with it.";
  }
  if (error instanceof KsefRateLimitError) {
    return `KSeF limits the request rate; run again after ${error.retryAt.toISOString()}.`;
  }
  if (error instanceof KsefNetworkError) {
    return "Check the credential's environment (and base URL) and that n8n can reach KSeF.";
  }
  if (error instanceof KsefTimeoutError) {
    return "KSeF is still processing; raise 'Wait for Processing (Seconds)' or check the session later.";
  }
  return undefined;
}

/** Engine field names of the client options, as the 'KSeF API' credential labels them. */
const CREDENTIAL_FIELD_LABELS: Array<[enginePrefix: string, label: string]> = [
  ['credentials.ksefToken', 'KSeF Token'],
  ['credentials.contextIdentifier', 'Context Identifier'],
  ['baseUrl', 'Base URL'],
  ['environment', 'Environment'],
];

function credentialFieldHint(field: string | undefined): string | undefined {
  const label = CREDENTIAL_FIELD_LABELS.find(([prefix]) => field?.startsWith(prefix))?.[1];
  return label && `Fix '${label}' in the 'KSeF API' credential.`;
}

/** One line for the credential "Test" result: the engine's message (secret-free) and which field to fix. */
export function credentialTestMessage(error: unknown): string {
  if (!(error instanceof KsefError)) return error instanceof Error ? error.message : String(error);
  return [error.message, credentialFieldHint(error.field), hintFor(error)].filter(Boolean).join(' ');
}

/** A user-facing message and description of any error; engine messages are secret-free by contract. */
export function describeError(error: unknown): { message: string; description?: string } {
  if (!(error instanceof KsefError)) {
    return { message: error instanceof Error ? error.message : String(error) };
  }
  const lines = [
    ...error.exceptions.map((e) => `KSeF ${e.code}: ${e.description}${e.details?.length ? ` (${e.details.join('; ')})` : ''}`),
    credentialFieldHint(error.field),
    hintFor(error),
    error.traceId && `KSeF trace id: ${error.traceId}`,
  ].filter((line): line is string => !!line);
  return { message: error.message, ...(lines.length > 0 && { description: lines.join('\n') }) };
}

/**
 * Engine errors become n8n errors: bad input is the user's to fix (NodeOperationError), anything KSeF or the
 * network answered is an API error (NodeApiError). Only the error's own fields travel, never request internals.
 */
export function toNodeError(node: INode, error: unknown, itemIndex?: number): NodeApiError | NodeOperationError {
  if (error instanceof NodeApiError || error instanceof NodeOperationError) return error;
  const { message, description } = describeError(error);
  if (error instanceof KsefError && !(error instanceof KsefInputError)) {
    return new NodeApiError(node, error.toJSON() as JsonObject, {
      message,
      description,
      itemIndex,
      ...(error.status !== undefined && { httpCode: String(error.status) }),
    });
  }
  return new NodeOperationError(node, message, { description, itemIndex });
}
