/**
 * Processing a closed batch session's package (sesja-wsadowa.md, faktury/weryfikacja-faktury.md, CIRFMF/ksef-docs): the
 * uploaded parts are checked against their declared hashes, decrypted in ordinal order into one spooled package whose
 * size and hash are checked against the declaration, the package is unpacked from the spool entry by entry, and every
 * file in it is verified and numbered exactly as an online invoice is (`processing.ts`). The files' contents are held
 * until verified (at most the invoice limit times the invoice size limit; the sandbox keeps accepted invoices' XML in
 * memory anyway). The session statuses are open-api.json's
 * (`SessionStatusResponse`): 405 parts or package not as declared, 435 a part that does not decrypt, 430 an archive
 * that does not unpack, 420 more invoices than the context's limit, then 200 / 440 / 445 as `finalizeSession` decides.
 */
import { createDecipheriv, createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { ArchiveFormatError, readArchive, type ArchiveEntry } from '../../shared/protocol/archive/read';
import { sha256Base64 } from '../../shared/protocol/crypto/hashes';
import { newReferenceNumber } from '../../shared/protocol/model/referenceNumber';
import { BATCH_SESSION_STATUS, INVOICE_STATUS, type StatusInfo } from '../catalogue';
import type { SandboxContext } from '../context';
import { BYTES_PER_MB } from '../limits/records';
import { batchPartBlobPath } from '../storage/store';
import { finalizeSession, isFinal, settleInvoice, verifyXml, type VerificationOutcome } from './processing';
import type { BatchSession, InvoiceStatusInfo, SessionInvoice } from './records';

/**
 * Invoices verified at once: enough to keep every XSD worker busy, few enough that invoices are numbered (and counted
 * in the session's status, which clients show as progress) as verification goes rather than all at the end.
 */
const VERIFICATION_WINDOW = 64;

/** A file of the package, read: its invoice record and its content, or why it cannot be an invoice. */
interface PackageFile {
  invoice: SessionInvoice;
  xml?: Buffer;
  refusal?: InvoiceStatusInfo;
}

/** Thrown inside the processing to end it with a session status. */
class BatchFailure extends Error {
  constructor(readonly status: StatusInfo) {
    super(status.description);
  }
}

/** Processes the package of a session the close has accepted (status 150) and sets its final status. */
export async function processBatch(ctx: SandboxContext, session: BatchSession): Promise<void> {
  if (!ctx.scheduler.running) return;
  const spool = await ctx.storage.temporaryFile();
  try {
    checkPartHashes(ctx, session);
    await decryptPackage(ctx, session, spool);
    // The whole package is read before any invoice is numbered: one that fails half way leaves no KSeF number behind.
    const files = await unpack(ctx, session, spool);
    await verifyAndSettle(ctx, session, files);
    if (ctx.scheduler.running) finalizeSession(ctx, session);
  } catch (error) {
    for (const invoice of session.invoices.filter((i) => !isFinal(i))) invoice.status = INVOICE_STATUS.cancelledBySessionError;
    session.status = error instanceof BatchFailure ? error.status : BATCH_SESSION_STATUS.unknownError;
    session.dateUpdated = ctx.clock.now();
    // Only what the client could not have caused is worth the scheduler's log.
    if (!(error instanceof BatchFailure) && ctx.scheduler.running) throw error;
  } finally {
    await rm(spool, { force: true });
  }
}

/** 405 when an uploaded part is not the one declared (its size was compared when the session was closed). */
function checkPartHashes(ctx: SandboxContext, session: BatchSession): void {
  for (const part of session.batch.parts) {
    const blob = ctx.storage.uploaded(batchPartBlobPath(session.referenceNumber, part.ordinalNumber));
    if (blob?.sha256 !== part.fileHash) {
      throw new BatchFailure({
        ...BATCH_SESSION_STATUS.packageVerificationFailed,
        details: [`Skrót części '${part.ordinalNumber}' nie zgadza się z zadeklarowanym (fileParts.fileHash).`],
      });
    }
  }
}

/**
 * Decrypts the parts in ordinal order, each on its own with the session's key and IV as the client encrypted them,
 * into `spool`, hashing what comes out: 435 when a part does not decrypt, 405 when the package is not the declared one.
 */
async function decryptPackage(ctx: SandboxContext, session: BatchSession, spool: string): Promise<void> {
  const key = session.symmetricKey;
  if (!key) throw new BatchFailure(BATCH_SESSION_STATUS.keyDecryptionFailed);
  const hash = createHash('sha256');
  let size = 0;
  const output = await open(spool, 'w');
  try {
    for (const part of session.batch.parts) {
      const blob = ctx.storage.uploaded(batchPartBlobPath(session.referenceNumber, part.ordinalNumber))!;
      try {
        await pipeline(
          createReadStream(blob.file),
          createDecipheriv('aes-256-cbc', key.key, key.iv),
          async (plain: AsyncIterable<Buffer>) => {
            for await (const chunk of plain) {
              hash.update(chunk);
              size += chunk.length;
              await output.write(chunk);
            }
          },
        );
      } catch {
        throw new BatchFailure({
          ...BATCH_SESSION_STATUS.partDecryptionFailed,
          details: [`Nie można odszyfrować części '${part.ordinalNumber}' kluczem i wektorem IV sesji (AES-256-CBC, PKCS#7).`],
        });
      }
    }
  } finally {
    await output.close();
  }
  const mismatch = [
    ...(size !== session.batch.fileSize
      ? [`Rozmiar paczki (${size} B) nie zgadza się z zadeklarowanym (batchFile.fileSize ${session.batch.fileSize} B).`]
      : []),
    ...(hash.digest('base64') !== session.batch.fileHash ? ['Skrót paczki nie zgadza się z zadeklarowanym (batchFile.fileHash).'] : []),
  ];
  if (mismatch.length > 0) throw new BatchFailure({ ...BATCH_SESSION_STATUS.packageVerificationFailed, details: mismatch });
}

/**
 * Reads the package's files one at a time into the session's invoices (status 100, listed at once): 430 when the
 * archive does not unpack, 420 past the context's invoice limit. KSeF does not say what else a package may hold:
 * every file is an invoice.
 */
async function unpack(ctx: SandboxContext, session: BatchSession, spool: string): Promise<PackageFile[]> {
  const limits = ctx.state.limits.contextLimitsOf(session.contextIdentifier).batchSession;
  const maxInvoiceBytes = Math.max(limits.maxInvoiceSizeInMB, limits.maxInvoiceWithAttachmentSizeInMB) * BYTES_PER_MB;
  const files: PackageFile[] = [];
  try {
    for await (const entry of readArchive(spool, session.batch.compressionType)) {
      if (files.length >= limits.maxInvoices) {
        throw new BatchFailure({
          ...BATCH_SESSION_STATUS.invoiceLimitExceeded,
          details: [`Paczka zawiera więcej niż ${limits.maxInvoices} faktur, na ile pozwala limit sesji wsadowej.`],
        });
      }
      const file = await readInvoice(ctx, session, entry, maxInvoiceBytes);
      files.push(file);
      session.invoices.push(file.invoice);
      session.dateUpdated = ctx.clock.now();
    }
  } catch (error) {
    if (error instanceof ArchiveFormatError)
      throw new BatchFailure({ ...BATCH_SESSION_STATUS.decompressionFailed, details: [error.message] });
    throw error;
  }
  return files;
}

/**
 * Verifies the files exactly as online invoices are, a window of them concurrently, and gives each its final status
 * strictly in the package's order, so that of two invoices with the same number the earlier one is the original.
 */
async function verifyAndSettle(ctx: SandboxContext, session: BatchSession, files: PackageFile[]): Promise<void> {
  const pending: Promise<VerificationOutcome>[] = [];
  let settled = 0;
  const settleOldest = async () => {
    const outcome = await pending.shift()!;
    if (ctx.scheduler.running) settleInvoice(ctx, session, files[settled].invoice, outcome);
    // What an accepted invoice keeps is in its record now; the rest is not needed any more.
    files[settled++].xml = undefined;
  };
  for (const { invoice, xml, refusal } of files) {
    if (!ctx.scheduler.running) return;
    pending.push(
      xml ? verifyXml(ctx, session, invoice, xml).catch((): VerificationOutcome => INVOICE_STATUS.unknownError) : Promise.resolve(refusal!),
    );
    if (pending.length >= VERIFICATION_WINDOW) await settleOldest();
  }
  while (pending.length > 0) await settleOldest();
}

/**
 * The invoice record of one file, with its content unless it is larger than any invoice may be (then only hashed, as
 * a stream, so that its status still names its hash, and refused with 430).
 */
async function readInvoice(ctx: SandboxContext, session: BatchSession, entry: ArchiveEntry, maxInvoiceBytes: number): Promise<PackageFile> {
  const invoice: SessionInvoice = {
    ordinalNumber: session.invoices.length + 1,
    referenceNumber: newReferenceNumber('EE', ctx.clock.now()),
    invoiceHash: '',
    invoiceSize: entry.size,
    invoiceFileName: entry.name,
    offlineMode: session.batch.offlineMode,
    // A batch's invoices are accepted when the session opened (offline/automatyczne-okreslanie-trybu-offline.md).
    invoicingDate: session.dateCreated,
    status: INVOICE_STATUS.accepted,
  };
  if (entry.size > maxInvoiceBytes) {
    const hash = createHash('sha256');
    for await (const chunk of await entry.open()) hash.update(chunk as Buffer);
    invoice.invoiceHash = hash.digest('base64');
    return {
      invoice,
      refusal: {
        ...INVOICE_STATUS.fileVerificationError,
        details: [`The file ${entry.name} has ${entry.size} bytes, more than the ${maxInvoiceBytes} an invoice may have.`],
      },
    };
  }
  const xml = await entry.read(maxInvoiceBytes);
  invoice.invoiceHash = sha256Base64(xml);
  return { invoice, xml };
}
