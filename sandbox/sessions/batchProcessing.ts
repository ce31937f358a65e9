/**
 * Processing a closed batch session's package (sesja-wsadowa.md, faktury/weryfikacja-faktury.md, CIRFMF/ksef-docs): the
 * uploaded parts are checked against their declared hashes, decrypted in ordinal order into one spooled package whose
 * size and hash are checked against the declaration, the package is unpacked as a stream, and every file in it is
 * verified and numbered exactly as an online invoice is (`processing.ts`). The session statuses are open-api.json's
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
import type { BatchSession, SessionInvoice } from './records';

/**
 * Invoices verified at once while the package is read: enough to keep every XSD worker busy, few enough that a slow
 * verification holds back the reading of the archive (and its memory) rather than piling up work.
 */
const VERIFICATION_WINDOW = 64;
/** Invoices numbered in one go before other requests get their turn. */
const SETTLE_SLICE = 500;

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
    const outcomes = await unpackAndVerify(ctx, session, spool);
    if (!ctx.scheduler.running) return;
    // Numbered strictly in the package's order, once the whole package has been read: a package that fails half way
    // leaves no invoice with a KSeF number behind. Numbering 10,000 takes seconds: the server answers in between.
    for (const [i, invoice] of session.invoices.entries()) {
      if (i % SETTLE_SLICE === 0) await new Promise(setImmediate);
      if (!ctx.scheduler.running) return;
      settleInvoice(ctx, session, invoice, outcomes[i]);
    }
    finalizeSession(ctx, session);
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
 * Reads the package's files one at a time into the session's invoices (status 100, listed at once) and verifies them,
 * a window of them concurrently; returns the outcomes in the package's order. 430 when the archive does not unpack,
 * 420 past the context's invoice limit. KSeF does not say what else a package may hold: every file is an invoice.
 */
async function unpackAndVerify(ctx: SandboxContext, session: BatchSession, spool: string): Promise<VerificationOutcome[]> {
  const limits = ctx.state.limits.contextLimitsOf(session.contextIdentifier).batchSession;
  const maxInvoiceBytes = Math.max(limits.maxInvoiceSizeInMB, limits.maxInvoiceWithAttachmentSizeInMB) * BYTES_PER_MB;
  const outcomes: VerificationOutcome[] = [];
  const pending: Promise<VerificationOutcome>[] = [];
  try {
    for await (const entry of readArchive(spool, session.batch.compressionType)) {
      if (!ctx.scheduler.running) break;
      if (session.invoices.length >= limits.maxInvoices) {
        throw new BatchFailure({
          ...BATCH_SESSION_STATUS.invoiceLimitExceeded,
          details: [`Paczka zawiera więcej niż ${limits.maxInvoices} faktur, na ile pozwala limit sesji wsadowej.`],
        });
      }
      const { invoice, xml } = await readInvoice(ctx, session, entry, maxInvoiceBytes);
      session.invoices.push(invoice);
      session.dateUpdated = ctx.clock.now();
      pending.push(
        xml
          ? verifyXml(ctx, session, invoice, xml).catch((): VerificationOutcome => INVOICE_STATUS.unknownError)
          : Promise.resolve(tooLarge(invoice, maxInvoiceBytes)),
      );
      if (pending.length >= VERIFICATION_WINDOW) outcomes.push(await pending.shift()!);
    }
  } catch (error) {
    if (error instanceof ArchiveFormatError) {
      throw new BatchFailure({ ...BATCH_SESSION_STATUS.decompressionFailed, details: [error.message] });
    }
    throw error;
  } finally {
    // Verifications still running are awaited whatever happened, so none outlives the processing.
    outcomes.push(...(await Promise.all(pending)));
  }
  return outcomes;
}

/**
 * The invoice record of one file, with its content unless it is larger than any invoice may be (then only hashed,
 * as a stream, so that its status still names its hash).
 */
async function readInvoice(
  ctx: SandboxContext,
  session: BatchSession,
  entry: ArchiveEntry,
  maxInvoiceBytes: number,
): Promise<{ invoice: SessionInvoice; xml?: Buffer }> {
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
    return { invoice };
  }
  const xml = await entry.read(maxInvoiceBytes);
  invoice.invoiceHash = sha256Base64(xml);
  return { invoice, xml };
}

function tooLarge(invoice: SessionInvoice, maxInvoiceBytes: number): VerificationOutcome {
  return {
    ...INVOICE_STATUS.fileVerificationError,
    details: [
      `The file ${invoice.invoiceFileName} has ${invoice.invoiceSize} bytes, more than the ${maxInvoiceBytes} an invoice may have.`,
    ],
  };
}
