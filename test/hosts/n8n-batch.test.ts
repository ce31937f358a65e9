/**
 * Invoice > Send in Batch mode in a real n8n 2.41 (packed package, Node 24), against a sandbox outside n8n:
 * Read/Write Files from Disk -> KSeF. 1,000 generated invoices, some deliberately invalid, go in ONE execution, and
 * each comes out with its KSeF number or its own error; then a run is killed (SIGKILL) after some package parts were
 * uploaded, run again, and finishes the same batch session: every invoice is in the sandbox exactly once.
 *
 * The storage host's uploads go through a pacing proxy in this process (the sandbox hands out upload URLs on the
 * proxy's origin), which counts the parts stored and slows each upload so the kill lands half way.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { isValidKsefNumber } from '../../shared/protocol/model/ksefNumber';
import { startSandbox, type SandboxHandle } from '../../sandbox';
import { N8nHost, nodeOutput } from './support/n8nHost';
import {
  batchSendWorkflow,
  expectFinishedInSameSession,
  invoiceFile,
  PacingProxy,
  resultsByFile,
  SEND_NODE,
  sessionLeftByKill,
  storedCounts,
  waitFor,
  writeFiles,
  WRONG_CHECK_DIGIT_NIP,
  type Flaw,
} from './support/batchFixtures';
import { sandboxCredentialData } from '../support/n8nCredential';

const CREDENTIAL = { id: 'KsefBatchSandbox1', name: 'KSeF sandbox outside n8n' };
const THOUSAND_ID = 'KsefBatchThousand001';
const RESUME_ID = 'KsefBatchResume002';
/** Four in every hundred of the 1,000 are invalid, one of each kind. */
function flawOf(i: number): Flaw | undefined {
  return ({ 7: 'wrongSellerNip', 23: 'schemaViolation', 51: 'duplicateNumber', 77: 'notXml' } as Record<number, Flaw>)[i % 100];
}

describe('KSeF node in a real n8n: Batch mode', () => {
  let host: N8nHost | undefined;
  let sandbox: SandboxHandle | undefined;
  let proxy: PacingProxy | undefined;
  const filesDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ksef-n8n-batch-files-'));
  const thousand = Array.from({ length: 1000 }, (_, i) => ({ ...invoiceFile('N8N-1000', i + 1, flawOf(i + 1)), flaw: flawOf(i + 1) }));
  const resumable = Array.from({ length: 200 }, (_, i) => invoiceFile('N8N-RESUME', i + 1));
  /** About 30 parts for the resumable set: each ZIP entry deflated alone, plus its headers. */
  const resumePartSize = Math.ceil(resumable.reduce((sum, { xml }) => sum + deflateRawSync(xml).length + 120, 0) / 30);

  beforeAll(async () => {
    writeFiles(path.join(filesDir, 'thousand'), thousand);
    writeFiles(path.join(filesDir, 'resume'), resumable);
    // n8n 2.x lets Read/Write Files from Disk read only where N8N_RESTRICT_FILE_ACCESS_TO says; the host takes this env.
    process.env.N8N_RESTRICT_FILE_ACCESS_TO = filesDir;
    [host, sandbox] = await Promise.all([N8nHost.withPackedPackage(), startSandbox()]);
    proxy = new PacingProxy(new URL(sandbox.baseUrl));
    sandbox.storage.setOrigin(await proxy.listen());
    await host.importCredentials([
      {
        ...CREDENTIAL,
        type: 'ksefApi',
        data: sandboxCredentialData(sandbox),
      },
    ]);
    await host.importWorkflows([
      batchSendWorkflow(THOUSAND_ID, CREDENTIAL, path.join(filesDir, 'thousand'), {}),
      batchSendWorkflow(RESUME_ID, CREDENTIAL, path.join(filesDir, 'resume'), { partSizeBytes: resumePartSize, uploadConcurrency: 1 }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([host?.cleanup(), sandbox?.close(), proxy?.close()]);
    fs.rmSync(filesDir, { recursive: true, force: true });
  });

  test('1,000 invoices in one execution: every valid one has its KSeF number, every invalid one its own error', async () => {
    const { [THOUSAND_ID]: result } = await host!.executeBatch([THOUSAND_ID]);
    expect(result.status).toBe('success');
    const output = nodeOutput(result, SEND_NODE);
    expect(output).toHaveLength(1000);
    const byFile = resultsByFile(output);
    const ksefNumbers = new Set<string>();
    const sessions = new Set<unknown>();
    for (const file of thousand) {
      const item = byFile.get(file.name)!;
      expect(item).toBeDefined();
      if (!file.flaw) {
        expect(item.json).toMatchObject({ status: 'accepted', sendMode: 'batch', invoiceNumber: file.invoiceNumber });
        expect(isValidKsefNumber(item.json.ksefNumber as string)).toBe(true);
        ksefNumbers.add(item.json.ksefNumber as string);
        sessions.add(item.json.sessionReferenceNumber);
        continue;
      }
      const { error, details } = item.json as { error: string; details: Record<string, unknown> };
      if (file.flaw === 'wrongSellerNip') {
        expect(details).toMatchObject({ status: 'rejected', statusCode: 410 });
        expect(error).toContain(WRONG_CHECK_DIGIT_NIP);
      } else if (file.flaw === 'schemaViolation') {
        expect(details).toMatchObject({ status: 'rejected', statusCode: 430 });
        expect(error).toMatch(/P_15.*TKwotowy/);
      } else if (file.flaw === 'duplicateNumber') {
        expect(details).toMatchObject({ status: 'rejected', statusCode: 440, invoiceNumber: file.invoiceNumber });
        // The first of the number is in KSeF; the error names its KSeF number.
        expect(error).toContain(byFile.get(thousand[thousand.indexOf(file) - 1].name)!.json.ksefNumber as string);
      } else {
        expect(details).toMatchObject({ status: 'notSent' });
        expect(error).toMatch(/not well-formed XML/);
      }
    }
    expect(ksefNumbers.size).toBe(960);
    expect(sessions.size).toBe(1);
    const stored = storedCounts(sandbox!);
    for (const file of thousand.filter(({ flaw }) => !flaw)) expect(stored.get(file.invoiceNumber)).toBe(1);
  });

  test('a run killed after some parts were uploaded is finished by the next run: one session, every invoice once', async () => {
    const sessionsBefore = sandbox!.state.batchSessions.size;
    proxy!.partsStored = 0;
    proxy!.paceMs = 150;
    const killed = host!.spawnExecute(RESUME_ID);
    const exited = new Promise((resolve) => killed.once('exit', resolve));
    await waitFor(() => proxy!.partsStored >= 8, 'the first parts to be uploaded', 90_000);
    process.kill(-killed.pid!, 'SIGKILL');
    await exited;
    const left = sessionLeftByKill(sandbox!, sessionsBefore, proxy!.partsStored);

    proxy!.paceMs = 0;
    const { [RESUME_ID]: result } = await host!.executeBatch([RESUME_ID]);
    expect(result.status).toBe('success');
    expectFinishedInSameSession(sandbox!, proxy!, sessionsBefore, left, nodeOutput(result, SEND_NODE), resumable);
  });
});
