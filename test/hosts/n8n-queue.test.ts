/**
 * Invoice > Send in Batch mode in a real n8n 2.41 in queue mode, as teams scale n8n: a main process taking webhooks,
 * Redis holding the queue, PostgreSQL the database, and `n8n worker` processes running the executions. In queue mode
 * n8n keeps binary data in the database, so the KSeF node reads every invoice file back as a stream from there.
 *
 * A worker is then killed (SIGKILL, as a crash or an out-of-memory kill ends it) after some package parts were
 * uploaded; the workflow run again goes to another worker, which shares the first one's `~/.n8n/storage`, and
 * finishes the same batch session: every invoice is in the sandbox exactly once. Last, a worker is killed while KSeF
 * processes its closed session, and the run again goes to a worker without that batch's state (storage of its own):
 * it sends the invoices again, and KSeF's duplicate check gives each its first KSeF number; still once in KSeF.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { isValidKsefNumber } from '../../shared/protocol/model/ksefNumber';
import { startSandbox, type SandboxHandle } from '../../sandbox';
import { N8nHost, type ExecutionItem, type N8nServer, type N8nWorker } from './support/n8nHost';
import { QueueServices } from './support/queueServices';
import {
  batchSendWorkflow,
  expectEachStoredOnce,
  expectFinishedInSameSession,
  invoiceFile,
  PacingProxy,
  resultsByFile,
  sessionLeftByKill,
  storedCounts,
  waitFor,
  writeFiles,
  WRONG_CHECK_DIGIT_NIP,
} from './support/batchFixtures';
import { sandboxCredentialData } from '../support/n8nCredential';

const CREDENTIAL = { id: 'KsefQueueSandbox1', name: 'KSeF sandbox outside n8n' };
const SEND_ID = 'KsefQueueSend001';
const RESUME_ID = 'KsefQueueResume002';
const AGAIN_ID = 'KsefQueueAgain003';
const SEND_PATH = 'ksef-queue-send';
const RESUME_PATH = 'ksef-queue-resume';
const AGAIN_PATH = 'ksef-queue-again';
/** How long the sandbox takes to process a closed session: long enough to kill a worker while it waits. */
const PROCESSING_DELAY_MS = 1500;

describe('KSeF node in a real n8n in queue mode (Redis, PostgreSQL, workers): Batch mode', () => {
  let services: QueueServices | undefined;
  let host: N8nHost | undefined;
  let sandbox: SandboxHandle | undefined;
  let proxy: PacingProxy | undefined;
  let main: N8nServer | undefined;
  const workers: N8nWorker[] = [];
  const filesDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ksef-n8n-queue-files-'));
  /** 40 invoices, the 13th with a wrong seller NIP. */
  const sendSet = Array.from({ length: 40 }, (_, i) => invoiceFile('N8N-QUEUE', i + 1, i === 12 ? 'wrongSellerNip' : undefined));
  const resumable = Array.from({ length: 120 }, (_, i) => invoiceFile('N8N-QUEUE-RESUME', i + 1));
  const sentAgain = Array.from({ length: 30 }, (_, i) => invoiceFile('N8N-QUEUE-AGAIN', i + 1));
  /** About 20 parts for the resumable set: each ZIP entry deflated alone, plus its headers. */
  const resumePartSize = Math.ceil(resumable.reduce((sum, { xml }) => sum + deflateRawSync(xml).length + 120, 0) / 20);

  /** POSTs to a published workflow's webhook; its answer is every item of the KSeF node, as the worker made them. */
  async function runWebhook(webhookPath: string, signal?: AbortSignal): Promise<ExecutionItem[]> {
    const response = await main!.fetch(`/webhook/${webhookPath}`, { method: 'POST', signal });
    const body = await response.text();
    if (!response.ok) throw new Error(`The webhook answered ${response.status}: ${body}`);
    return (JSON.parse(body) as Array<Record<string, unknown>>).map((json) => ({ json }));
  }

  beforeAll(async () => {
    writeFiles(path.join(filesDir, 'send'), sendSet);
    writeFiles(path.join(filesDir, 'resume'), resumable);
    writeFiles(path.join(filesDir, 'again'), sentAgain);
    [services, sandbox] = await Promise.all([QueueServices.start(), startSandbox({ processingDelayMs: PROCESSING_DELAY_MS })]);
    host = await N8nHost.withPackedPackage({ ...services.n8nEnv(), N8N_RESTRICT_FILE_ACCESS_TO: filesDir });
    proxy = new PacingProxy(new URL(sandbox.baseUrl));
    sandbox.storage.setOrigin(await proxy.listen());
    await host.importCredentials([{ ...CREDENTIAL, type: 'ksefApi', data: sandboxCredentialData(sandbox) }]);
    await host.importWorkflows([
      batchSendWorkflow(SEND_ID, CREDENTIAL, path.join(filesDir, 'send'), {}, SEND_PATH),
      batchSendWorkflow(
        RESUME_ID,
        CREDENTIAL,
        path.join(filesDir, 'resume'),
        { partSizeBytes: resumePartSize, uploadConcurrency: 1 },
        RESUME_PATH,
      ),
      batchSendWorkflow(AGAIN_ID, CREDENTIAL, path.join(filesDir, 'again'), {}, AGAIN_PATH),
    ]);
    for (const id of [SEND_ID, RESUME_ID, AGAIN_ID]) await host.publishWorkflow(id);
    main = await host.startServer();
    workers.push(await host.startWorker());
  });
  afterAll(async () => {
    await Promise.all(workers.map((worker) => worker.stop()));
    await main?.stop();
    await Promise.all([host?.cleanup(), sandbox?.close(), proxy?.close()]);
    await services?.stop();
    fs.rmSync(filesDir, { recursive: true, force: true });
  });

  test('a batch runs on a worker with its invoices in the database: each valid one has its KSeF number, the invalid one its error', async () => {
    const output = await runWebhook(SEND_PATH);
    expect(workers[0].output()).toMatch(/Worker started execution \d+/);
    // n8n's queue mode keeps binary data in PostgreSQL: every file read went there.
    expect(Number(services!.query('select count(*) from binary_data')[0])).toBeGreaterThanOrEqual(sendSet.length);
    expect(output).toHaveLength(sendSet.length);
    const byFile = resultsByFile(output);
    const sessions = new Set<unknown>();
    for (const [i, file] of sendSet.entries()) {
      const { json } = byFile.get(file.name)!;
      if (i === 12) {
        expect(json.details).toMatchObject({ status: 'rejected', statusCode: 410 });
        expect(json.error).toContain(WRONG_CHECK_DIGIT_NIP);
        continue;
      }
      expect(json).toMatchObject({ status: 'accepted', sendMode: 'batch', invoiceNumber: file.invoiceNumber });
      expect(isValidKsefNumber(json.ksefNumber as string)).toBe(true);
      sessions.add(json.sessionReferenceNumber);
    }
    expect(sessions.size).toBe(1);
    const stored = storedCounts(sandbox!);
    for (const [i, file] of sendSet.entries()) expect(stored.get(file.invoiceNumber)).toBe(i === 12 ? undefined : 1);
  });

  test('a worker killed half way through the upload: the run on another worker finishes the same session, every invoice once', async () => {
    const sessionsBefore = sandbox!.state.batchSessions.size;
    proxy!.partsStored = 0;
    proxy!.paceMs = 150;
    // The webhook of the run whose worker dies answers only when n8n gives that execution up.
    const abandoned = new AbortController();
    const first = runWebhook(RESUME_PATH, abandoned.signal).catch(() => undefined);
    await waitFor(() => proxy!.partsStored >= 5, 'the first parts to be uploaded', 120_000);
    await workers[0].kill();
    const left = sessionLeftByKill(sandbox!, sessionsBefore, proxy!.partsStored);

    proxy!.paceMs = 0;
    workers.push(await host!.startWorker());
    const output = await runWebhook(RESUME_PATH);
    expect(workers[1].output()).toMatch(/Worker started execution \d+/);
    abandoned.abort();
    await first;
    expectFinishedInSameSession(sandbox!, proxy!, sessionsBefore, left, output, resumable);
  });

  test('a worker killed while KSeF processes its session: the run on a worker without its state sends again, each invoice keeps its first KSeF number', async () => {
    const sessionsBefore = sandbox!.state.batchSessions.size;
    const abandoned = new AbortController();
    const first = runWebhook(AGAIN_PATH, abandoned.signal).catch(() => undefined);
    const closed = () => [...sandbox!.state.batchSessions.values()].slice(sessionsBefore).find(({ status }) => status.code === 150);
    await waitFor(() => closed() !== undefined, 'the session to be closed', 120_000);
    const original = closed()!;
    await workers[workers.length - 1].kill();
    await waitFor(() => original.status.code === 200, 'KSeF to process the session', 30_000);
    const firstKsefNumbers = new Map(
      [...sandbox!.state.invoicesByKsefNumber].map(([ksefNumber, { invoice }]) => [invoice.invoiceNumber, ksefNumber]),
    );
    for (const file of sentAgain) expect(firstKsefNumbers.get(file.invoiceNumber)).toBeDefined();

    // A worker with storage of its own: the killed worker's batch state is not there.
    fs.rmSync(path.join(host!.userFolder, '.n8n', 'storage'), { recursive: true, force: true });
    workers.push(await host!.startWorker());
    const output = await runWebhook(AGAIN_PATH);
    abandoned.abort();
    await first;
    expect(sandbox!.state.batchSessions.size).toBe(sessionsBefore + 2);
    expectEachStoredOnce(sandbox!, output, sentAgain, (file) => ({
      status: 'alreadySent',
      invoiceNumber: file.invoiceNumber,
      ksefNumber: firstKsefNumbers.get(file.invoiceNumber),
    }));
  });
});
