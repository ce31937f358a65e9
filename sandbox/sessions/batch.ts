/**
 * Batch sessions as KSeF runs them (sesja-wsadowa.md, CIRFMF/ksef-docs; open-api.json 2.8.1, CIRFMF/ksef-api): the
 * open validates the declared package and hands out one upload URL per part on the sandbox's storage host; the close
 * checks that every declared part arrived with its declared size and starts processing the package
 * (`batchProcessing.ts`), which ends in the session's final status.
 */
import { schemaForFormCode, type FormCode, type InvoiceSchema } from '../../shared/protocol/model/formCodes';
import { newReferenceNumber } from '../../shared/protocol/model/referenceNumber';
import type { AuthenticationOperation } from '../auth/records';
import { BATCH_SESSION_STATUS } from '../catalogue';
import type { SandboxContext } from '../context';
import { MINUTE_MS } from '../dates';
import { inputValidationError, ksefException } from '../http/errors';
import {
  optionalBoolean,
  requireArray,
  requireBase64,
  requireInteger,
  requireObject,
  requireOneOf,
  requireString,
  type JsonRecord,
} from '../http/input';
import { principalOf, type RouteDefinition } from '../http/route';
import { readEncryptionInfo, unwrapSymmetricKey, type EncryptionRequest } from '../security/rules';
import { MAX_PART_BYTES, batchPartBlobPath, type UploadSlot } from '../storage/store';
import { processBatch } from './batchProcessing';
import { isBatchSession, type BatchPartDeclaration, type BatchSession } from './records';
import { SESSION_VALIDITY_MS, sessionOf } from './rules';

/** The form codes a batch session takes (the `formCode` table of OpenBatchSessionRequest): no PEF, which is online only. */
export const BATCH_SCHEMAS: readonly InvoiceSchema[] = ['FA(2)', 'FA(3)', 'FA_RR(1)'];
/** BatchFileInfo of open-api.json: at most 50 parts and 5 GB (decimal) of unencrypted package. */
export const MAX_BATCH_PARTS = 50;
export const MAX_PACKAGE_BYTES = 5_000_000_000;
/** Each part's URL stays valid for 20 minutes per declared part ("Limit czasu na przesłanie partów", sesja-wsadowa.md). */
export const UPLOAD_WINDOW_PER_PART_MS = 20 * MINUTE_MS;

const SEND_PERMISSIONS = ['InvoiceWrite', 'EnforcementOperations'];

/** `formCode` of an open request, one of `supported` (21405 "Wskazany kod formularza nie jest wspierany." otherwise). */
export function readFormCode(body: JsonRecord, supported?: readonly InvoiceSchema[]): { schema: InvoiceSchema; formCode: FormCode } {
  const formCode = requireObject(body.formCode, 'formCode');
  const requested = {
    systemCode: requireString(formCode, 'systemCode', 'formCode.systemCode'),
    schemaVersion: requireString(formCode, 'schemaVersion', 'formCode.schemaVersion'),
    value: requireString(formCode, 'value', 'formCode.value'),
  };
  const schema = schemaForFormCode(requested);
  if (!schema || (supported && !supported.includes(schema))) throw inputValidationError(['Wskazany kod formularza nie jest wspierany.']);
  return { schema, formCode: requested };
}

/** What `POST /sessions/batch` declares. */
export interface BatchDeclaration extends EncryptionRequest {
  schema: InvoiceSchema;
  formCode: FormCode;
  compressionType: 'Zip' | 'TarGz';
  fileSize: number;
  fileHash: string;
  parts: BatchPartDeclaration[];
  offlineMode: boolean;
}

/**
 * Reads and checks the declaration. With the spec folder present, open-api.json's own limits (1..50 parts, 5 GB) are
 * enforced before this as 21405; without it these checks give them (21161 for the part count). What the docs leave
 * open, chosen as a validator would: ordinal numbers must be 1..n, each once, and hashes must be SHA-256 digests.
 */
export function readBatchDeclaration(ctx: SandboxContext, body: JsonRecord): BatchDeclaration {
  const { schema, formCode } = readFormCode(body, BATCH_SCHEMAS);
  const batchFile = requireObject(body.batchFile, 'batchFile');
  const fileSize = requireInteger(batchFile, 'fileSize', 'batchFile.fileSize', 1);
  if (fileSize > MAX_PACKAGE_BYTES) throw inputValidationError([`'batchFile.fileSize' must not exceed ${MAX_PACKAGE_BYTES} (5 GB).`]);
  const fileHash = requireSha256(batchFile, 'fileHash', 'batchFile.fileHash');
  const compressionType =
    batchFile.compressionType == null
      ? 'Zip'
      : requireOneOf(batchFile.compressionType, ['Zip', 'TarGz'] as const, 'batchFile.compressionType');
  const declaredParts = requireArray(batchFile, 'fileParts', { minItems: 1 }, 'batchFile.fileParts');
  if (declaredParts.length > MAX_BATCH_PARTS) {
    throw ksefException(21161, `Paczka może składać się z najwyżej ${MAX_BATCH_PARTS} części, zadeklarowano ${declaredParts.length}.`);
  }
  const parts = declaredParts.map((value, i): BatchPartDeclaration => {
    const part = requireObject(value, `batchFile.fileParts[${i}]`);
    return {
      ordinalNumber: requireInteger(part, 'ordinalNumber', `batchFile.fileParts[${i}].ordinalNumber`, 1),
      fileSize: requireInteger(part, 'fileSize', `batchFile.fileParts[${i}].fileSize`, 1),
      fileHash: requireSha256(part, 'fileHash', `batchFile.fileParts[${i}].fileHash`),
    };
  });
  parts.sort((a, b) => a.ordinalNumber - b.ordinalNumber);
  if (parts.some((part, i) => part.ordinalNumber !== i + 1)) {
    throw inputValidationError([`'batchFile.fileParts' must be numbered 1 to ${parts.length} (ordinalNumber), each number once.`]);
  }
  const oversized = parts.find((part) => part.fileSize > MAX_PART_BYTES);
  if (oversized) throw ksefException(21157, `Rozmiar części ${oversized.ordinalNumber} przekroczył dozwolony rozmiar 100MB.`);
  return {
    schema,
    formCode,
    compressionType,
    fileSize,
    fileHash,
    parts,
    offlineMode: optionalBoolean(body, 'offlineMode') ?? false,
    ...readEncryptionInfo(ctx, body),
  };
}

function requireSha256(body: JsonRecord, key: string, field: string): string {
  const digest = requireBase64(body, key, field);
  if (digest.length !== 32) throw inputValidationError([`'${field}' must be the Base64 of a SHA-256 digest (32 bytes).`]);
  return body[key] as string;
}

/**
 * Opens a batch session for the authenticated `operation` and one upload slot per declared part. An undecryptable
 * key ends the session in status 415 shortly after, as for an online session; its slots are handed out all the same.
 */
export function openBatchSession(
  ctx: SandboxContext,
  operation: AuthenticationOperation,
  declaration: BatchDeclaration,
  now: Date,
): { session: BatchSession; slots: UploadSlot[] } {
  const symmetricKey = unwrapSymmetricKey(declaration);
  const { schema, formCode, compressionType, fileSize, fileHash, parts, offlineMode } = declaration;
  const uploadDeadline = new Date(now.getTime() + parts.length * UPLOAD_WINDOW_PER_PART_MS);
  const session: BatchSession = {
    referenceNumber: newReferenceNumber('SB', now),
    schema,
    formCode,
    symmetricKey,
    contextIdentifier: operation.contextIdentifier,
    authReferenceNumber: operation.referenceNumber,
    upoAuthentication: operation.tokenReferenceNumber
      ? { ksefTokenReferenceNumber: operation.tokenReferenceNumber }
      : { authenticationDocumentHash: operation.authenticationDocumentHash! },
    status: BATCH_SESSION_STATUS.open,
    dateCreated: now,
    dateUpdated: now,
    validUntil: new Date(now.getTime() + SESSION_VALIDITY_MS),
    invoices: [],
    upoPages: [],
    batch: { compressionType, fileSize, fileHash, parts, offlineMode, uploadDeadline },
  };
  ctx.state.batchSessions.set(session.referenceNumber, session);
  const slots = parts.map((part) =>
    ctx.storage.createUploadSlot(batchPartBlobPath(session.referenceNumber, part.ordinalNumber), uploadDeadline),
  );
  if (!symmetricKey) {
    ctx.scheduler.after(ctx.processingDelayMs, () => {
      session.status = BATCH_SESSION_STATUS.keyDecryptionFailed;
      session.dateUpdated = ctx.clock.now();
    });
  }
  return { session, slots };
}

/**
 * Closes the session and starts processing its package (status 150). Refused, as open-api.json lists for the close:
 * 21180 when the session is no longer open, 21205 while a declared part has not been uploaded, 21208 once such a part
 * can no longer arrive because the upload window is over (the session is then cancelled: 440 "Przekroczono czas
 * wysyłki"), 21157 when an uploaded part's size is not the declared one. A part's hash is not compared here: a wrong
 * one fails the processing (405), as the docs place that check with the package's verification.
 */
export function closeBatchSession(ctx: SandboxContext, session: BatchSession, now: Date): void {
  if (session.status === BATCH_SESSION_STATUS.uploadTimeExceeded) throw ksefException(21208, 'Sesja anulowana, przekroczony czas wysyłki.');
  if (session.status.code !== 100) throw ksefException(21180, `Status sesji ${session.status.code} uniemożliwia jej zamknięcie.`);
  for (const part of session.batch.parts) {
    const blob = ctx.storage.uploaded(batchPartBlobPath(session.referenceNumber, part.ordinalNumber));
    if (!blob && now >= session.batch.uploadDeadline) {
      session.status = BATCH_SESSION_STATUS.uploadTimeExceeded;
      session.dateUpdated = now;
      throw ksefException(21208, 'Sesja anulowana, przekroczony czas wysyłki.');
    }
    if (!blob) throw ksefException(21205, `Nie przesłano zadeklarowanej '${part.ordinalNumber}' części pliku.`);
    if (blob.size !== part.fileSize) {
      throw ksefException(21157, `Zadeklarowany rozmiar części '${part.ordinalNumber}' nie zgadza się z rzeczywistym.`);
    }
  }
  session.status = BATCH_SESSION_STATUS.processing;
  session.dateUpdated = now;
  ctx.scheduler.after(ctx.processingDelayMs, () => processBatch(ctx, session));
}

export function batchSessionRoutes(ctx: SandboxContext): RouteDefinition[] {
  return [
    {
      method: 'POST',
      path: '/sessions/batch',
      auth: 'accessToken',
      rateLimit: 'batchSession',
      permissions: SEND_PERMISSIONS,
      handler: (req) => {
        const declaration = readBatchDeclaration(ctx, requireObject(req.json, '(body)'));
        const { session, slots } = openBatchSession(ctx, principalOf(req).operation, declaration, req.now);
        return {
          status: 201,
          body: {
            referenceNumber: session.referenceNumber,
            partUploadRequests: slots.map((slot, i) => ({
              ordinalNumber: session.batch.parts[i].ordinalNumber,
              method: slot.method,
              url: slot.url,
              headers: slot.headers,
            })),
          },
        };
      },
    },
    {
      method: 'POST',
      path: '/sessions/batch/{referenceNumber}/close',
      auth: 'accessToken',
      rateLimit: 'batchSessionClose',
      permissions: SEND_PERMISSIONS,
      handler: (req) => {
        const referenceNumber = req.params.referenceNumber;
        const session = sessionOf(ctx, principalOf(req).operation.contextIdentifier, referenceNumber, req.now);
        if (!isBatchSession(session))
          throw ksefException(21173, `Sesja o numerze referencyjnym ${referenceNumber} nie została znaleziona.`);
        closeBatchSession(ctx, session, req.now);
        return { status: 204 };
      },
    },
  ];
}
