/**
 * What the real-n8n batch tests share: invoice files (some made invalid on purpose), the workflow that reads them
 * from disk and sends them in Batch mode, a proxy in front of the sandbox's storage host that paces and counts the
 * uploaded parts (so a kill lands half way), and what the sandbox holds afterwards.
 */
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import type { SandboxHandle } from '../../../sandbox';
import { buildDemoInvoice, DEMO_SELLER_NIP } from '../../../sandbox/samples/demoInvoice';
import type { ExecutionItem, Workflow } from './n8nHost';

export const READ_NODE = 'Invoice files';
export const SEND_NODE = 'Send to KSeF';
/** Makes this run's invoice numbers its own: the sandbox refuses a number it already has. */
const run = `${process.pid}-${Date.now()}`;
/** The demo seller's NIP with its check digit changed. */
export const WRONG_CHECK_DIGIT_NIP = `${DEMO_SELLER_NIP.slice(0, 9)}${(Number(DEMO_SELLER_NIP[9]) + 1) % 10}`;

export type Flaw = 'wrongSellerNip' | 'schemaViolation' | 'duplicateNumber' | 'notXml';

/** Invoice `i` of a set: distinct number, 1 to 5 lines; `flaw` makes it invalid in one way. */
export function invoiceFile(set: string, i: number, flaw?: Flaw): { name: string; xml: string; invoiceNumber: string } {
  const invoiceNumber = `FV/${set}/${run}/${flaw === 'duplicateNumber' ? i - 1 : i}`;
  let xml = buildDemoInvoice({ invoiceNumber, lines: 1 + (i % 5) });
  if (flaw === 'wrongSellerNip') xml = xml.replace(`<NIP>${DEMO_SELLER_NIP}</NIP>`, `<NIP>${WRONG_CHECK_DIGIT_NIP}</NIP>`);
  // A duplicate number with other content: KSeF keeps the first and refuses the second.
  if (flaw === 'duplicateNumber') xml = xml.replace('<P_1M>Kraków</P_1M>', '<P_1M>Wieliczka</P_1M>');
  if (flaw === 'schemaViolation') xml = xml.replace(/<P_15>[^<]*<\/P_15>/, '<P_15>dużo</P_15>');
  if (flaw === 'notXml') xml = `Invoice ${invoiceNumber}, sorry, not XML`;
  return { name: `inv-${String(i).padStart(4, '0')}.xml`, xml, invoiceNumber };
}

export function writeFiles(folder: string, files: Array<{ name: string; xml: string }>): void {
  fs.mkdirSync(folder, { recursive: true });
  for (const { name, xml } of files) fs.writeFileSync(path.join(folder, name), xml);
}

/**
 * Trigger -> Read/Write Files from Disk (every `*.xml` of `folder`) -> KSeF Invoice > Send in Batch mode, errors to
 * the regular output. The trigger is a manual one, or (`webhookPath`) a webhook answering with every item of the
 * last node, which a published workflow serves on `/webhook/<path>`.
 */
export function batchSendWorkflow(
  id: string,
  credential: { id: string; name: string },
  folder: string,
  batchOptions: Record<string, unknown>,
  webhookPath?: string,
): Workflow {
  const trigger = webhookPath
    ? {
        id: `${id}-start`,
        name: 'Start',
        type: 'n8n-nodes-base.webhook',
        typeVersion: 2,
        position: [0, 0] as [number, number],
        webhookId: randomUUID(),
        parameters: { httpMethod: 'POST', path: webhookPath, responseMode: 'lastNode', responseData: 'allEntries', options: {} },
      }
    : {
        id: `${id}-start`,
        name: 'Start',
        type: 'n8n-nodes-base.manualTrigger',
        typeVersion: 1,
        position: [0, 0] as [number, number],
        parameters: {},
      };
  return {
    id,
    name: `KSeF batch ${id}`,
    nodes: [
      trigger,
      {
        id: `${id}-read`,
        name: READ_NODE,
        type: 'n8n-nodes-base.readWriteFile',
        typeVersion: 1.1,
        position: [220, 0],
        parameters: { operation: 'read', fileSelector: `${folder}/*.xml`, options: {} },
      },
      {
        id: `${id}-send`,
        name: SEND_NODE,
        type: '@ksef-flow/n8n-nodes-ksef.ksef',
        typeVersion: 1,
        position: [440, 0],
        parameters: {
          resource: 'invoice',
          operation: 'send',
          sendMode: 'batch',
          xmlSource: 'binary',
          binaryPropertyName: 'data',
          downloadUpo: false,
          batchOptions,
          options: { includeInputFields: true },
        },
        credentials: { ksefApi: credential },
        onError: 'continueRegularOutput',
      },
    ],
    connections: {
      Start: { main: [[{ node: READ_NODE, type: 'main', index: 0 }]] },
      [READ_NODE]: { main: [[{ node: SEND_NODE, type: 'main', index: 0 }]] },
    },
    settings: { executionOrder: 'v1' },
  };
}

/** Forwards everything to the sandbox; holds each PUT (a package part) `paceMs` first and counts the parts stored. */
export class PacingProxy {
  partsStored = 0;
  paceMs = 0;
  private readonly server: Server;

  constructor(target: URL) {
    this.server = createServer((req, res) => {
      const forward = () => {
        const upstream = request(
          { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
          (answer) => {
            if (req.method === 'PUT' && answer.statusCode === 201) this.partsStored += 1;
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(res);
          },
        );
        upstream.on('error', () => res.destroy());
        req.pipe(upstream);
      };
      if (req.method === 'PUT' && this.paceMs > 0) setTimeout(forward, this.paceMs);
      else forward();
    });
  }

  /** Listens on a free loopback port; returns its origin. */
  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

/** How many times each invoice number is stored in the sandbox. */
export function storedCounts(sandbox: SandboxHandle): Map<string, number> {
  const counts = new Map<string, number>();
  for (const { invoice } of sandbox.state.invoicesByKsefNumber.values()) {
    if (invoice.invoiceNumber) counts.set(invoice.invoiceNumber, (counts.get(invoice.invoiceNumber) ?? 0) + 1);
  }
  return counts;
}

/** The KSeF node's output items by the file each came from (Include Input Fields keeps the file's name). */
export function resultsByFile(items: ExecutionItem[]): Map<string, ExecutionItem> {
  return new Map(items.map((item) => [item.json.fileName as string, item]));
}

/**
 * The one batch session a killed run opened since `sessionsBefore`: none of its invoices in KSeF yet, parts still to
 * upload beyond the `partsStored` before the kill.
 */
export function sessionLeftByKill(
  sandbox: SandboxHandle,
  sessionsBefore: number,
  partsStored: number,
): { referenceNumber: string; parts: number } {
  const opened = [...sandbox.state.batchSessions.values()].slice(sessionsBefore);
  expect(opened).toHaveLength(1);
  const parts = opened[0].batch.parts.length;
  expect(parts).toBeGreaterThan(partsStored);
  expect(opened[0].invoices).toHaveLength(0);
  return { referenceNumber: opened[0].referenceNumber, parts };
}

/**
 * The run after the kill finished the session `left`: no other session opened, only the parts still missing uploaded
 * (one in flight at the kill may go again, and is refused), every invoice accepted in that session and stored once.
 */
export function expectFinishedInSameSession(
  sandbox: SandboxHandle,
  proxy: PacingProxy,
  sessionsBefore: number,
  left: { referenceNumber: string; parts: number },
  output: ExecutionItem[],
  files: Array<{ name: string; invoiceNumber: string }>,
): void {
  expect(sandbox.state.batchSessions.size).toBe(sessionsBefore + 1);
  expect(proxy.partsStored).toBe(left.parts);
  expectEachStoredOnce(sandbox, output, files, (file) => ({
    status: 'accepted',
    invoiceNumber: file.invoiceNumber,
    sessionReferenceNumber: left.referenceNumber,
  }));
}

/** One output item per file, each matching `expected(file)`, and each file's invoice stored once in the sandbox. */
export function expectEachStoredOnce<File extends { name: string; invoiceNumber: string }>(
  sandbox: SandboxHandle,
  output: ExecutionItem[],
  files: File[],
  expected: (file: File) => Record<string, unknown>,
): void {
  expect(output).toHaveLength(files.length);
  const byFile = resultsByFile(output);
  for (const file of files) expect(byFile.get(file.name)!.json).toMatchObject(expected(file));
  const stored = storedCounts(sandbox);
  for (const file of files) expect(stored.get(file.invoiceNumber)).toBe(1);
}

export async function waitFor(condition: () => boolean, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
