import type { Logger, Sleep } from '../protocol/types';
import type { SessionUpoPage } from './types';
import type { RequestFunction } from '../http/transport';
import { KsefError } from '../http/errors';
import { backoffDelayMs } from '../http/backoff';
import { upoMismatch, type UpoSubject } from '../protocol/xml/upo';
import { errorJson } from './errorJson';

export interface UpoDownloadDeps {
  /** Authenticated requests; an absolute storage URL goes without the token. */
  api: RequestFunction;
  sleep: Sleep;
  logger?: Logger;
}

/** One page of a session UPO as `GET /sessions/{ref}` lists it (`upo.pages`). */
export interface UpoPage {
  referenceNumber: string;
  downloadUrl?: string;
}

/** Rounds over a UPO's sources (storage link, then API) before it is reported missing. */
const UPO_ROUNDS = 3;

/**
 * The UPO of an invoice: from the storage URL its final status gave (`upoDownloadUrl`), else from
 * `GET /sessions/{ref}/invoices/ksef/{ksefNumber}/upo` (faktury/sesje/sesja-sprawdzenie-stanu-i-pobranie-upo.md, CIRFMF/ksef-docs).
 */
export function downloadInvoiceUpo(
  deps: UpoDownloadDeps,
  sessionReferenceNumber: string,
  invoice: { ksefNumber: string; invoiceHash: string; upoDownloadUrl?: string },
  about: Record<string, unknown>,
): Promise<{ upo: string } | { problem: string }> {
  return downloadUpo(
    deps,
    [
      ...(invoice.upoDownloadUrl ? [invoice.upoDownloadUrl] : []),
      `/sessions/${sessionReferenceNumber}/invoices/ksef/${invoice.ksefNumber}/upo`,
    ],
    { ksefNumber: invoice.ksefNumber, invoiceHash: invoice.invoiceHash },
    about,
  );
}

/**
 * The session UPO pages that could be obtained (each from its storage URL, else `GET /sessions/{ref}/upo/{upoRef}`),
 * and why the others could not.
 */
export async function downloadSessionUpo(
  deps: UpoDownloadDeps,
  sessionReferenceNumber: string,
  pages: UpoPage[],
): Promise<{ pages: SessionUpoPage[]; problem?: Record<string, unknown> }> {
  const downloaded: SessionUpoPage[] = [];
  const problems: string[] = [];
  for (const page of pages) {
    const result = await downloadUpo(
      deps,
      [...(page.downloadUrl ? [page.downloadUrl] : []), `/sessions/${sessionReferenceNumber}/upo/${page.referenceNumber}`],
      { sessionReferenceNumber },
      { page: page.referenceNumber },
    );
    if ('upo' in result) downloaded.push({ referenceNumber: page.referenceNumber, upo: result.upo });
    else problems.push(`page ${page.referenceNumber}: ${result.problem}`);
  }
  if (problems.length === 0) return { pages: downloaded };
  const message = `The session UPO of ${sessionReferenceNumber} could not be obtained (${problems.join('; ')}). Download it later.`;
  return { pages: downloaded, problem: new KsefError(message).toJSON() };
}

/**
 * The UPO of `subject`, from the first of `sources` that gives it, over a few rounds with growing pauses. An answer
 * that is not this UPO (e.g. an HTML page a storage front end served with 200) is never kept; when no round gives
 * the UPO, the problems of the last round say why.
 *
 * Storage URLs go through the transport, which sends them without the token, rather than the streaming storage
 * client: a UPO is a few kilobytes, and the transport is what the sessions' callers already hand in.
 */
async function downloadUpo(
  { api, sleep, logger }: UpoDownloadDeps,
  sources: string[],
  subject: UpoSubject,
  about: Record<string, unknown>,
): Promise<{ upo: string } | { problem: string }> {
  let problems: string[] = [];
  for (let round = 0; round < UPO_ROUNDS; round++) {
    if (round > 0) await sleep(backoffDelayMs(round, 1000, 5000));
    problems = [];
    for (const path of sources) {
      // A storage URL carries its signature in the query: name it without.
      const source = /^https?:\/\//i.test(path) ? 'the storage link' : path;
      try {
        const xml = (await api<string>({ method: 'GET', path, responseType: 'text' })).data;
        const mismatch = upoMismatch(xml, subject);
        if (!mismatch) return { upo: xml };
        problems.push(`${source} did not answer with this UPO (${mismatch})`);
      } catch (error) {
        problems.push(`${source} failed (${String(errorJson(error).message)})`);
      }
      logger?.warn('Could not download a UPO', { ...about, source, reason: problems[problems.length - 1] });
    }
  }
  return { problem: problems.join('; ') };
}
