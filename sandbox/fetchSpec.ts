/**
 * The official KSeF files for a machine without a spec folder (a fresh clone has no `../shared/ksef-spec`):
 * fetched once from their public GitHub repositories at the pinned commits (`shared/protocol/spec/officialFiles.ts`),
 * each checked against its pinned SHA-256, and cached outside the clone in a folder laid out like the spec folder,
 * so the rest of the code just gets a folder path. Used by the tests' global setup and by `ksef-sandbox --fetch-spec`; the
 * embedded sandbox never fetches on its own.
 *
 * Every file is written to a temporary name and renamed into place only after its hash matched, so an
 * interrupted run never leaves a file that counts as fetched; every run re-hashes the cached files (a few MB,
 * milliseconds) and fetches only those missing or wrong.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { sha256Hex } from '../shared/protocol/crypto/hashes';
import { PINNED_SPEC_FILES, type PinnedSpecFile } from '../shared/protocol/spec/officialFiles';
import { findSpecFolder, SPEC_DIR_ENV, specFolderBesideClone } from '../shared/protocol/spec/specFolder';

export const RAW_GITHUB_URL = 'https://raw.githubusercontent.com';

/** Per file; the largest pinned file is 2.4 MB. */
const DOWNLOAD_TIMEOUT_MS = 60_000;

export interface FetchSpecOptions {
  /** Folder the fetched spec folders live in; default `${XDG_CACHE_HOME:-~/.cache}/ksef-flow/spec`. */
  cacheRoot?: string;
  /** Serves `<repo>/<commit>/<path>` as raw.githubusercontent.com does (the default); tests use a local server. */
  baseUrl?: string;
  /** Default: `PINNED_SPEC_FILES`. */
  files?: readonly PinnedSpecFile[];
  /** Told once, before the first download, what is fetched and where it goes. */
  log?: (line: string) => void;
}

/**
 * The spec folder `findSpecFolder()` finds (`KSEF_SPEC_DIR`, `../shared/ksef-spec` beside `clone`) or, when there
 * is none, the pinned official files fetched into the cache.
 */
export async function resolveSpecFolder(options: FetchSpecOptions & { clone?: string } = {}): Promise<string> {
  return findSpecFolder(undefined, options.clone) ?? fetchSpecFolder(options);
}

/** The cached spec folder with every pinned file in it, fetching those it lacks; throws saying which folder to provide instead. */
export async function fetchSpecFolder(options: FetchSpecOptions = {}): Promise<string> {
  const files = options.files ?? PINNED_SPEC_FILES;
  const folder = path.join(options.cacheRoot ?? defaultCacheRoot(), cacheKey(files));
  const missing: PinnedSpecFile[] = [];
  for (const file of files) {
    if (!(await hasPinnedContent(path.join(folder, file.path), file.sha256))) missing.push(file);
  }
  if (missing.length > 0) {
    const repos = [...new Set(missing.map((file) => file.repo))].join(', ');
    options.log?.(`Fetching ${missing.length} official KSeF files (${repos}, pinned commits) into ${folder}; later runs reuse them.`);
  }
  for (const file of missing) {
    const body = await download(file, options.baseUrl ?? RAW_GITHUB_URL).catch((error: Error) => {
      throw new Error(`Cannot fetch the official KSeF files into ${folder}: ${error.message}.\n${howToProvide(files)}`, { cause: error });
    });
    await writeAtomically(path.join(folder, file.path), body);
  }
  return folder;
}

export function rawUrl(baseUrl: string, file: PinnedSpecFile): string {
  const inRepo = file.repoPath?.split('/') ?? file.path.split('/').slice(1);
  return [baseUrl.replace(/\/+$/, ''), file.repo, file.commit, ...inRepo.map(encodeSegment)].join('/');
}

/** encodeURIComponent leaves `!'()*` alone; RFC 3986 reserves them, and the schema file names have parentheses. */
function encodeSegment(segment: string): string {
  return encodeURIComponent(segment).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function defaultCacheRoot(): string {
  return path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'ksef-flow', 'spec');
}

/** One folder per pinned list: a changed commit or file gets a fresh folder, never a mix of old and new files. */
function cacheKey(files: readonly PinnedSpecFile[]): string {
  return sha256Hex(JSON.stringify(files.map(({ path: p, repo, repoPath, commit, sha256 }) => [p, repo, repoPath, commit, sha256]))).slice(
    0,
    16,
  );
}

async function hasPinnedContent(file: string, sha256: string): Promise<boolean> {
  try {
    return sha256Hex(await fs.promises.readFile(file)) === sha256;
  } catch {
    return false;
  }
}

async function download(file: PinnedSpecFile, baseUrl: string): Promise<Buffer> {
  const url = rawUrl(baseUrl, file);
  let body: Buffer;
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(DOWNLOAD_TIMEOUT_MS) });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    body = Buffer.from(await response.arrayBuffer());
  } catch (error) {
    // fetch() reports network failures as "fetch failed" with the reason (ECONNREFUSED, ENOTFOUND...) as the cause.
    const reason = (error as Error & { cause?: Error }).cause?.message ?? (error as Error).message;
    throw new Error(`${file.path} could not be downloaded from ${url} (${reason})`, { cause: error });
  }
  const actual = sha256Hex(body);
  if (actual !== file.sha256) throw new Error(`${file.path} downloaded from ${url} has SHA-256 ${actual}, not the pinned ${file.sha256}`);
  return body;
}

async function writeAtomically(target: string, body: Buffer): Promise<void> {
  await fs.promises.mkdir(path.dirname(target), { recursive: true });
  const temporary = `${target}.${process.pid}-${randomBytes(4).toString('hex')}.part`;
  try {
    await fs.promises.writeFile(temporary, body);
    await fs.promises.rename(temporary, target);
  } catch (error) {
    await fs.promises.rm(temporary, { force: true });
    throw error;
  }
}

function howToProvide(files: readonly PinnedSpecFile[]): string {
  const folders = new Map<string, PinnedSpecFile>();
  for (const file of files.filter((f) => !f.repoPath)) {
    const folder = file.path.split('/')[0];
    if (!folders.has(folder)) folders.set(folder, file);
  }
  const layout = [
    ...[...folders].map(([folder, file]) => `  ${folder}/  the files of ${file.repo} at commit ${file.commit}, e.g. ${file.path}`),
    ...files.filter((f) => f.repoPath).map((file) => `  ${file.path}  ${file.repoPath} of ${file.repo} at commit ${file.commit}`),
  ];
  return [
    `Provide the spec folder yourself: ${SPEC_DIR_ENV}=/path/to/ksef-spec (or the folder ${specFolderBesideClone()}), holding`,
    ...layout,
    '(the files the project reads and their SHA-256: PINNED_SPEC_FILES in shared/protocol/spec/officialFiles.ts).',
  ].join('\n');
}
