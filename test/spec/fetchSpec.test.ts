/**
 * Fetching the official KSeF files on a machine without a spec folder. GitHub is out of reach here, so a local
 * server on 127.0.0.1 plays raw.githubusercontent.com for a pinned list of two made-up files.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { AUTH_TOKEN_XSD_PATH } from '../../shared/protocol/xml/xades/authTokenSchema';
import { sha256Hex } from '../../shared/protocol/crypto/hashes';
import { INVOICE_SCHEMAS } from '../../shared/protocol/model/formCodes';
import { fetchSpecFolder, RAW_GITHUB_URL, rawUrl, resolveSpecFolder } from '../../sandbox/fetchSpec';
import { PINNED_SPEC_FILES, type PinnedSpecFile } from '../../shared/protocol/spec/officialFiles';
import { findSpecFolder, SPEC_DIR_ENV } from '../../shared/protocol/spec/specFolder';
import { UPO_XSD_PATH } from '../../shared/protocol/xml/xsd';
import { parseCliArgs, runCli } from '../../sandbox/cli';

const COMMIT = '0123456789abcdef0123456789abcdef01234567';
const CONTENTS: Record<string, string> = {
  'ksef-docs/faktury/schemy/FA/schemat_FA(3)_v1-0E.xsd': '<xsd:schema xmlns:xsd="http://www.w3.org/2001/XMLSchema"/>\n',
  'ksef-client-csharp/KSeF.Client.Tests.Core/Templates/invoice-template-fa-3.xml': `<Faktura>${'x'.repeat(100_000)}</Faktura>\n`,
};
const FILES: PinnedSpecFile[] = Object.entries(CONTENTS).map(([file, text]) => ({
  path: file,
  repo: `CIRFMF/${file.split('/')[0]}`,
  commit: COMMIT,
  sha256: sha256Hex(text),
}));
const [XSD, TEMPLATE] = FILES;
/** A verbatim copy of an official file that another project keeps under its own path (as the 2.8.1 contract is). */
const COPY_TEXT = '{"openapi":"3.0.1"}\n';
const COPY: PinnedSpecFile = {
  path: 'ksef-api/open-api.json',
  repo: 'someone/ksef-client',
  repoPath: 'specs/ksef-openapi.snapshot.json',
  commit: COMMIT,
  sha256: sha256Hex(COPY_TEXT),
};

/** What the server answers for a request path; by default the file's real content. */
type Answer = (res: http.ServerResponse, text: string) => void;

class RawServer {
  readonly requests: string[] = [];
  private answer: Answer = (res, text) => res.end(text);
  private readonly server = http.createServer((req, res) => {
    this.requests.push(req.url!);
    const file = [...FILES, COPY].find((f) => new URL(rawUrl('http://x', f)).pathname === req.url);
    if (!file) return void res.writeHead(404).end();
    this.answer(res, file === COPY ? COPY_TEXT : CONTENTS[file.path]);
  });

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  answerWith(answer: Answer): void {
    this.answer = answer;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

let server: RawServer;
let baseUrl: string;
let cacheRoot: string;

beforeEach(async () => {
  server = new RawServer();
  baseUrl = await server.start();
  cacheRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'ksef-spec-cache-'));
});
afterEach(async () => {
  await server.close();
  fs.rmSync(cacheRoot, { recursive: true, force: true });
});

const fetchTwoFiles = (log?: (line: string) => void): Promise<string> => fetchSpecFolder({ cacheRoot, baseUrl, files: FILES, log });

/** Every file under `dir`, relative to it. */
function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return (fs.readdirSync(dir, { recursive: true }) as string[])
    .filter((f) => fs.statSync(path.join(dir, f)).isFile())
    .map((f) => f.split(path.sep).join('/'))
    .sort();
}

describe('fetchSpecFolder', () => {
  it('fetches each pinned file once, at its commit with the path URL-encoded, into a folder laid out like the spec folder', async () => {
    const log: string[] = [];
    const folder = await fetchTwoFiles((line) => log.push(line));
    expect(folder.startsWith(cacheRoot)).toBe(true);
    expect(findSpecFolder(folder)).toBe(folder);
    expect(filesUnder(folder)).toEqual(Object.keys(CONTENTS).sort());
    for (const [file, text] of Object.entries(CONTENTS)) expect(fs.readFileSync(path.join(folder, file), 'utf8')).toBe(text);
    expect(server.requests.sort()).toEqual([
      `/CIRFMF/ksef-client-csharp/${COMMIT}/KSeF.Client.Tests.Core/Templates/invoice-template-fa-3.xml`,
      `/CIRFMF/ksef-docs/${COMMIT}/faktury/schemy/FA/schemat_FA%283%29_v1-0E.xsd`,
    ]);
    expect(log).toEqual([
      expect.stringContaining(
        `Fetching 2 official KSeF files (CIRFMF/ksef-docs, CIRFMF/ksef-client-csharp, pinned commits) into ${folder}`,
      ),
    ]);

    log.length = 0;
    server.requests.length = 0;
    await expect(fetchTwoFiles((line) => log.push(line))).resolves.toBe(folder);
    expect(server.requests).toEqual([]);
    expect(log).toEqual([]);
  });

  it('refuses a file whose SHA-256 is not the pinned one, naming the file and the folder to provide, and keeps nothing of it', async () => {
    server.answerWith((res, text) => res.end(text.replace('xsd:schema', 'xsd:schemaX')));
    const failure = fetchTwoFiles();
    await expect(failure).rejects.toThrow(
      new RegExp(
        `ksef-docs/faktury/schemy/FA/schemat_FA\\(3\\)_v1-0E\\.xsd downloaded from ${baseUrl}/\\S+ has SHA-256 [0-9a-f]{64}, not the pinned ${XSD.sha256}`,
      ),
    );
    await expect(failure).rejects.toThrow(`${SPEC_DIR_ENV}=/path/to/ksef-spec`);
    await expect(failure).rejects.toThrow(`  ksef-docs/  the files of CIRFMF/ksef-docs at commit ${COMMIT}, e.g. ${XSD.path}`);
    await expect(failure).rejects.toThrow(
      `  ksef-client-csharp/  the files of CIRFMF/ksef-client-csharp at commit ${COMMIT}, e.g. ${TEMPLATE.path}`,
    );
    expect(filesUnder(cacheRoot)).toEqual([]);
  });

  it('without a network says so and names the folder to provide', async () => {
    await server.close();
    const failure = fetchTwoFiles();
    await expect(failure).rejects.toThrow(
      /^Cannot fetch the official KSeF files into .+: ksef-docs\/\S+ could not be downloaded from http:\/\/127\.0\.0\.1:\d+\/\S+ \(connect ECONNREFUSED 127\.0\.0\.1:\d+\)\.\n/,
    );
    await expect(failure).rejects.toThrow(`Provide the spec folder yourself: ${SPEC_DIR_ENV}=/path/to/ksef-spec`);
    expect(filesUnder(cacheRoot)).toEqual([]);
  });

  it('never counts a partly downloaded or partly written file as fetched', async () => {
    // The connection drops halfway through the template: nothing of it reaches the cache.
    server.answerWith((res, text) => {
      if (text.length < 1000) return void res.end(text);
      res.writeHead(200, { 'content-length': text.length });
      res.write(text.slice(0, text.length / 2), () => res.destroy());
    });
    await expect(fetchTwoFiles()).rejects.toThrow(`${TEMPLATE.path} could not be downloaded from`);
    const folder = path.join(cacheRoot, fs.readdirSync(cacheRoot)[0]);
    expect(filesUnder(folder)).toEqual([XSD.path]);

    // A run that died while writing (a truncated file where the template belongs, its temporary file beside it):
    // the next run fetches the template again, and only the template.
    const target = path.join(folder, TEMPLATE.path);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, CONTENTS[TEMPLATE.path].slice(0, 500));
    fs.writeFileSync(`${target}.4242-deadbeef.part`, CONTENTS[TEMPLATE.path].slice(0, 700));
    server.answerWith((res, text) => res.end(text));
    server.requests.length = 0;
    await expect(fetchTwoFiles()).resolves.toBe(folder);
    expect(server.requests).toEqual([`/CIRFMF/ksef-client-csharp/${COMMIT}/KSeF.Client.Tests.Core/Templates/invoice-template-fa-3.xml`]);
    expect(fs.readFileSync(target, 'utf8')).toBe(CONTENTS[TEMPLATE.path]);
  });
});

describe('a pinned copy kept under another path', () => {
  it('is fetched from its own repository and path into the official folder', async () => {
    const folder = await fetchSpecFolder({ cacheRoot, baseUrl, files: [COPY] });
    expect(server.requests).toEqual([`/someone/ksef-client/${COMMIT}/specs/ksef-openapi.snapshot.json`]);
    expect(filesUnder(folder)).toEqual(['ksef-api/open-api.json']);
    expect(fs.readFileSync(path.join(folder, 'ksef-api/open-api.json'), 'utf8')).toBe(COPY_TEXT);
  });

  it('is named with where it comes from when it cannot be fetched', async () => {
    server.answerWith((res, text) => res.end(`${text} `));
    await expect(fetchSpecFolder({ cacheRoot, baseUrl, files: [XSD, COPY] })).rejects.toThrow(
      `  ksef-api/open-api.json  specs/ksef-openapi.snapshot.json of someone/ksef-client at commit ${COMMIT}`,
    );
  });
});

describe('resolveSpecFolder', () => {
  let root: string;
  let specDirBefore: string | undefined;

  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'ksef-clone-'));
    specDirBefore = process.env[SPEC_DIR_ENV];
    delete process.env[SPEC_DIR_ENV];
  });
  afterEach(() => {
    if (specDirBefore !== undefined) process.env[SPEC_DIR_ENV] = specDirBefore;
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('uses ../shared/ksef-spec beside the clone and fetches nothing', async () => {
    const besideClone = path.join(root, 'shared', 'ksef-spec');
    fs.mkdirSync(path.join(besideClone, 'ksef-docs'), { recursive: true });
    fs.mkdirSync(path.join(root, 'clone'));
    await expect(resolveSpecFolder({ clone: path.join(root, 'clone'), cacheRoot, baseUrl, files: FILES })).resolves.toBe(besideClone);
    expect(server.requests).toEqual([]);
    expect(fs.readdirSync(cacheRoot)).toEqual([]);
  });

  it('fetches when neither KSEF_SPEC_DIR nor ../shared/ksef-spec exists', async () => {
    fs.mkdirSync(path.join(root, 'clone'));
    const folder = await resolveSpecFolder({ clone: path.join(root, 'clone'), cacheRoot, baseUrl, files: FILES });
    expect(folder.startsWith(cacheRoot)).toBe(true);
    expect(server.requests).toHaveLength(FILES.length);
  });
});

describe('the pinned official files', () => {
  const specDir = findSpecFolder()!;

  it('are raw GitHub URLs of the official repositories at full commits', () => {
    const fa3 = PINNED_SPEC_FILES.find((f) => f.path === `ksef-docs/${INVOICE_SCHEMAS['FA(3)'].xsdPath}`)!;
    expect(rawUrl(RAW_GITHUB_URL, fa3)).toBe(
      'https://raw.githubusercontent.com/CIRFMF/ksef-docs/d92d285b928896258afdb27f7150f9127ee18ada/faktury/schemy/FA/schemat_FA%283%29_v1-0E.xsd',
    );
    for (const file of PINNED_SPEC_FILES) {
      if (!file.repoPath) expect(file.repo).toMatch(/^CIRFMF\/ksef-/);
      if (!file.repoPath) expect(file.path.startsWith(`${file.repo.split('/')[1]}/`)).toBe(true);
      expect(file.commit).toMatch(/^[0-9a-f]{40}$/);
    }
  });

  it('take the 2.8.1 contract from the verbatim copy of CIRFMF/ksef-api main/open-api.json kept by smekcio/ksef-client-typescript', () => {
    const contract = PINNED_SPEC_FILES.find((f) => f.path === 'ksef-api/open-api.json')!;
    expect(rawUrl(RAW_GITHUB_URL, contract)).toBe(
      'https://raw.githubusercontent.com/smekcio/ksef-client-typescript/a2b77a941e89e080368f64d43bfeb4b8345dd96a/specs/ksef-openapi.snapshot.json',
    );
  });

  it('cover the schemas and the spec the code reads', () => {
    const pinned = new Set(PINNED_SPEC_FILES.map((f) => f.path));
    const read = [
      ...Object.values(INVOICE_SCHEMAS).map((s) => `ksef-docs/${s.xsdPath}`),
      `ksef-docs/${UPO_XSD_PATH}`,
      `ksef-docs/${AUTH_TOKEN_XSD_PATH}`,
      'ksef-api/open-api.json',
    ];
    expect(read.filter((file) => !pinned.has(file))).toEqual([]);
  });

  it('cover every official sample invoice the tests read', () => {
    const templates = 'ksef-client-csharp/KSeF.Client.Tests.Core/Templates';
    const pinned = PINNED_SPEC_FILES.filter((f) => path.posix.dirname(f.path) === templates).map((f) => path.posix.basename(f.path));
    expect(
      fs
        .readdirSync(path.join(specDir, templates))
        .filter((f) => f.endsWith('.xml'))
        .sort(),
    ).toEqual(pinned.sort());
  });

  it('have their pinned SHA-256 in the spec folder the tests use', () => {
    const wrong = PINNED_SPEC_FILES.filter((f) => sha256Hex(fs.readFileSync(path.join(specDir, f.path))) !== f.sha256);
    expect(wrong.map((f) => f.path)).toEqual([]);
  });
});

describe('ksef-sandbox --fetch-spec', () => {
  it('is a flag without a value', () => {
    expect(parseCliArgs(['--fetch-spec', '--port', '0'])).toEqual({ fetchSpec: true, port: 0 });
    expect(parseCliArgs(['--nip', '5265877635', '--fetch-spec'])).toEqual({ nip: '5265877635', fetchSpec: true });
  });

  it('starts with the official schemas from the spec folder it finds, fetching nothing', async () => {
    const lines: string[] = [];
    const warnings: string[] = [];
    const sandbox = await runCli(
      ['--fetch-spec', '--host', '127.0.0.1', '--port', '0'],
      (line) => lines.push(line),
      (line) => warnings.push(line),
    );
    try {
      expect(sandbox.officialSchemas).toBe(true);
      expect(lines).toHaveLength(1);
      expect(warnings).toEqual([]);
    } finally {
      await sandbox.close();
    }
  });
});
