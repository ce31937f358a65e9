import type { INode, JsonObject } from 'n8n-workflow';
import { NodeApiError, NodeOperationError } from 'n8n-workflow';
import {
  KsefAuthError,
  KsefError,
  KsefForbiddenError,
  KsefInputError,
  KsefNetworkError,
  KsefRateLimitError,
  KsefTimeoutError,
} from '../../../../shared';

/** What to do about each kind of engine error, in words an n8n user can act on. */
function hintFor(error: KsefError): string | undefined {
  if (error instanceof KsefForbiddenError) {
    return (
      "The credential lacks a KSeF permission for this operation: sending invoices needs 'InvoiceWrite', managing KSeF " +
      "tokens 'CredentialsManage', and KSeF certificates need the Certificate authentication method."
    );
  }
  if (error instanceof KsefAuthError && error.field === 'credentials.ksefToken') {
    return 'KSeF did not accept the KSeF token: it may have been revoked or expired, or belong to another context. Generate a new token (Token > Generate) and put it in the credential.';
  }
  if (error instanceof KsefRateLimitError) {
    return `KSeF limits the request rate; run again after ${error.retryAt.toISOString()}.`;
  }
  if (error instanceof KsefNetworkError) {
    return "Check the credential's environment (and base URL) and that n8n can reach KSeF.";
  }
  if (error instanceof KsefTimeoutError) {
    return "KSeF is still processing: raise 'Wait for Processing (Seconds)', or read the results later with Invoice > Get Status.";
  }
  return undefined;
}

/**
 * Engine field names of the client options, as the 'KSeF API' credential labels them; the first matching prefix
 * wins, so the specific certificate fields come before the certificate as a whole.
 */
const CREDENTIAL_FIELD_LABELS: Array<[enginePrefix: string, label: string]> = [
  ['credentials.method', "'Authentication Method'"],
  ['credentials.ksefToken', "'KSeF Token'"],
  ['credentials.contextIdentifier', "'Context Identifier'"],
  ['credentials.certificate.pkcs12', "'PKCS#12 File (Base64)'"],
  ['credentials.certificate.password', "'PKCS#12 Password'"],
  ['credentials.certificate.certificatePem', "'Certificate (PEM)'"],
  ['credentials.certificate.privateKeyPem', "'Private Key (PEM)'"],
  ['credentials.certificate.passphrase', "'Private Key Passphrase'"],
  ['credentials.certificate', 'the certificate fields'],
  ['credentials.subjectIdentifierType', "'Subject Identifier Type' (under 'Advanced Settings')"],
  ['credentials.authorizationPolicy.allowChallengeClientIp', "'Also Allow the Current IP' (under 'Advanced Settings')"],
  ['credentials.authorizationPolicy', "'Allowed IP Addresses' (under 'Advanced Settings')"],
  ['credentials.authTokenRequestSchema', "'Authentication Request Schema' (under 'Advanced Settings')"],
  ['baseUrl', "'Base URL'"],
  ['environment', "'Environment'"],
];

/** Which credential field to fix; `credentialName` is the name the user gave the credential, when known. */
function credentialFieldHint(field: string | undefined, credentialName?: string): string | undefined {
  const label = CREDENTIAL_FIELD_LABELS.find(([prefix]) => field?.startsWith(prefix))?.[1];
  return label && `Fix ${label} in the 'KSeF API' credential${credentialName ? ` "${credentialName}"` : ''}.`;
}

/** One line for the credential "Test" result: which field to fix first, then the engine's message (secret-free) in the form's words. */
export function credentialTestMessage(error: unknown): string {
  if (!(error instanceof KsefError)) return error instanceof Error ? error.message : String(error);
  return [credentialFieldHint(error.field), inEditorWords(error.message, {}), hintFor(error)].filter(Boolean).join(' ');
}

/** The name of the 'KSeF API' credential the node uses, to say which one to fix. */
function credentialNameOf(node: INode): string | undefined {
  return node.credentials?.ksefApi?.name ?? undefined;
}

/**
 * The engine's message in the editor's words: engine field names (`credentials.ksefToken`, an operation's
 * `options.description`, ...) become the labels the user sees, longest name first so `credentials.certificate.pkcs12`
 * is not read as `credentials.certificate`.
 */
function inEditorWords(message: string, fieldLabels: Record<string, string>): string {
  const labels = [
    ...CREDENTIAL_FIELD_LABELS,
    ...Object.entries(fieldLabels).map(([field, label]): [string, string] => [field, `'${label}'`]),
  ];
  labels.sort(([a], [b]) => b.length - a.length);
  let text = message;
  // Only names that cannot be ordinary words (a dot or a capital inside): 'environment' stays prose.
  for (const [field, label] of labels.filter(([field]) => /[.A-Z]/.test(field))) {
    text = text.replace(new RegExp(`(?<![\\w.\\[])${field.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![\\w\\[]|\\.\\w)`, 'g'), label);
  }
  return text;
}

/**
 * A user-facing message and description of any error; engine messages are secret-free by contract. A credential
 * problem says first which credential to fix; `fieldLabels` names the operation's own fields as the editor does.
 */
export function describeError(
  error: unknown,
  node?: INode,
  fieldLabels: Record<string, string> = {},
): { message: string; description?: string } {
  if (!(error instanceof KsefError)) {
    return { message: error instanceof Error ? error.message : String(error) };
  }
  const credentialName = node && credentialNameOf(node);
  const inCredential = !!error.field && CREDENTIAL_FIELD_LABELS.some(([prefix]) => error.field!.startsWith(prefix));
  const message = inEditorWords(error.message, fieldLabels);
  const lines = [
    ...error.exceptions.map((e) => `KSeF ${e.code}: ${e.description}${e.details?.length ? ` (${e.details.join('; ')})` : ''}`),
    credentialFieldHint(error.field, credentialName),
    hintFor(error),
    error.traceId && `KSeF trace id: ${error.traceId}`,
  ].filter((line): line is string => !!line);
  return {
    message: inCredential ? `Fix the 'KSeF API' credential${credentialName ? ` "${credentialName}"` : ''}: ${message}` : message,
    ...(lines.length > 0 && { description: lines.join('\n') }),
  };
}

/**
 * Engine errors become n8n errors: bad input is the user's to fix (NodeOperationError), anything KSeF or the
 * network answered is an API error (NodeApiError). Only the error's own fields travel, never request internals.
 */
export function toNodeError(
  node: INode,
  error: unknown,
  itemIndex?: number,
  fieldLabels: Record<string, string> = {},
): NodeApiError | NodeOperationError {
  if (error instanceof NodeApiError || error instanceof NodeOperationError) return error;
  const { message, description } = describeError(error, node, fieldLabels);
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
