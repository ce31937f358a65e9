/**
 * Invoice > Send's Send Mode in n8n's own execution engine (test/n8n/harness.ts), against the embedded sandbox: a
 * batch with valid and invalid invoices gives one output item per input, in order, each with its KSeF number or
 * its own error; Auto picks online or batch by the number of items; XML in n8n's filesystem binary data store is
 * sent from its file, 10,000 invoices in one execution and one session. The real-host suite
 * (test/hosts/n8n-batch.test.ts) sends 1,000 invoices and resumes a killed run.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { isValidKsefNumber } from '../../shared';
import { startSandbox } from '../../sandbox';
import { buildDemoInvoice, DEMO_SELLER_NIP } from '../../sandbox/samples/demoInvoice';
import { startFaultProxy } from '../engine/support/faultProxy';
import { describeWithN8n, loadOptionsContext, runKsefNode, type InputItem } from './harness';
import { sandboxCredentialData } from '../support/n8nCredential';

const SEND_TEXT = { resource: 'invoice', operation: 'send', xmlSource: 'text', xml: '={{ $json.xml }}', downloadUpo: false };
const run = `${process.pid}-${Date.now()}`;
let serial = 0;
function invoiceNumber(): string {
  serial += 1;
  return `FV/N8N-BATCH/${run}/${serial}`;
}
function invoiceXml(number = invoiceNumber()): string {
  return buildDemoInvoice({ invoiceNumber: number, lines: 1 });
}
/** The demo seller's NIP with its check digit changed: not the authenticated context, which KSeF refuses. */
const WRONG_CHECK_DIGIT_NIP = `${DEMO_SELLER_NIP.slice(0, 9)}${(Number(DEMO_SELLER_NIP[9]) + 1) % 10}`;

describeWithN8n('Invoice > Send, Send Mode in n8n', () => {
  test('Batch: valid and invalid invoices, one output item per input in order, each with its KSeF number or its own error', async () => {
    const duplicated = invoiceNumber();
    const items: InputItem[] = [
      { json: { erpId: 'ERP-1', xml: invoiceXml() } },
      { json: { erpId: 'ERP-2', xml: invoiceXml().replace(`<NIP>${DEMO_SELLER_NIP}</NIP>`, `<NIP>${WRONG_CHECK_DIGIT_NIP}</NIP>`) } },
      { json: { erpId: 'ERP-3', xml: invoiceXml(duplicated) } },
      { json: { erpId: 'ERP-4', xml: 'This is not an invoice' } },
      // Schema violation: the gross total is not an amount.
      { json: { erpId: 'ERP-5', xml: invoiceXml().replace(/<P_15>[^<]*<\/P_15>/, '<P_15>dużo</P_15>') } },
      { json: { erpId: 'ERP-6', xml: invoiceXml(duplicated).replace('<P_13_1>', '<P_13_1>1') } },
      { json: { erpId: 'ERP-7', xml: invoiceXml() } },
    ];
    const { outputs, error } = await runKsefNode({
      parameters: { ...SEND_TEXT, sendMode: 'batch', batchOptions: { partSizeBytes: 4096 }, options: { includeInputFields: true } },
      items,
      settings: { onError: 'continueRegularOutput' },
    });

    expect(error).toBeUndefined();
    const [out] = outputs;
    expect(out.map((item) => item.pairedItem)).toEqual(items.map((_, item) => ({ item })));
    expect(out.map((item) => item.json.erpId)).toEqual(items.map((item) => item.json!.erpId));
    for (const good of [out[0], out[2], out[6]]) {
      expect(good.json).toMatchObject({
        status: 'accepted',
        sendMode: 'batch',
        environment: 'sandbox',
        packageFileName: expect.stringMatching(/^invoice-\d+\.xml$/),
      });
      expect(isValidKsefNumber(good.json.ksefNumber as string)).toBe(true);
      expect(good.json.ordinalNumber).toEqual(expect.any(Number));
    }
    const sessions = new Set([out[0], out[2], out[6]].map((item) => item.json.sessionReferenceNumber));
    expect(sessions.size).toBe(1);

    expect(out[1].json.details).toMatchObject({ status: 'rejected', sendMode: 'batch' });
    expect(out[1].json.error).toMatch(
      new RegExp(`^KSeF rejected invoice FV/N8N-BATCH/\\S+ \\(item 2\\): \\d{3} .*${WRONG_CHECK_DIGIT_NIP}`),
    );
    expect(out[3].json.details).toMatchObject({ status: 'notSent' });
    expect(out[3].json.error).toMatch(/^The invoice of item 4 .*XML/i);
    expect(out[4].json.details).toMatchObject({ status: 'rejected', statusCode: 430 });
    expect(out[4].json.error).toMatch(/\(item 5\): 430 .*P_15.*TKwotowy/);
    expect(out[5].json.details).toMatchObject({ status: 'rejected', statusCode: 440 });
    expect(out[5].json.error).toContain(`invoice ${duplicated} (item 6): 440`);
  });

  test('a batch in several sessions that stops the workflow names each invoice already in KSeF with its own session', async () => {
    const rejectedNumber = invoiceNumber();
    const { error } = await runKsefNode({
      parameters: { ...SEND_TEXT, sendMode: 'batch', batchOptions: { maxInvoicesPerSession: 2 } },
      items: [
        { json: { xml: invoiceXml() } },
        { json: { xml: invoiceXml(rejectedNumber).replace(/<P_15>[^<]*<\/P_15>/, '<P_15>dużo</P_15>') } },
        { json: { xml: invoiceXml() } },
      ],
    });

    expect(error?.message).toContain(`KSeF rejected invoice ${rejectedNumber} (item 2): 430 `);
    const listed = [...(error?.description ?? '').matchAll(/^- invoice \S+ \(item (\d)\): (\S+) \(in session (\S+)\)$/gm)];
    expect(listed.map(([, item]) => item)).toEqual(['1', '3']);
    expect(listed.every(([, , ksefNumber]) => isValidKsefNumber(ksefNumber))).toBe(true);
    expect(new Set(listed.map(([, , , session]) => session)).size).toBe(2);
    expect(error?.description).toContain('Invoice > Get Status with the session named beside each invoice');
  });

  test('Auto sends fewer items than its threshold online and that many in a batch', async () => {
    const parameters = { ...SEND_TEXT, sendMode: 'auto', autoBatchThreshold: 3 };
    const few = await runKsefNode({ parameters, items: [{ json: { xml: invoiceXml() } }, { json: { xml: invoiceXml() } }] });
    expect(few.outputs[0].map((item) => [item.json.status, item.json.sendMode])).toEqual([
      ['accepted', 'online'],
      ['accepted', 'online'],
    ]);
    expect(few.outputs[0][0].json.ordinalNumber).toBeUndefined();

    const enough = await runKsefNode({ parameters, items: [1, 2, 3].map(() => ({ json: { xml: invoiceXml() } })) });
    expect(enough.outputs[0].map((item) => [item.json.status, item.json.sendMode])).toEqual([
      ['accepted', 'batch'],
      ['accepted', 'batch'],
      ['accepted', 'batch'],
    ]);
  });

  test('a batch stopped by a failing upload says how to finish it, and the same items run again finish the same session', async () => {
    const sandbox = await startSandbox();
    const proxy = await startFaultProxy(sandbox.baseUrl);
    try {
      // Part uploads go through the proxy: the second part fails on every attempt of the first run.
      sandbox.storage.setOrigin(new URL(proxy.baseUrl).origin);
      const secondPart = (request: { method: string; path: string }) => request.method === 'PUT' && request.path.endsWith('/batch-parts/2');
      proxy.inject(secondPart, { kind: 'respond', status: 503 }, 4);
      const credentials = sandboxCredentialData(sandbox);
      const numbers = [invoiceNumber(), invoiceNumber(), invoiceNumber()];
      const parameters = { ...SEND_TEXT, sendMode: 'batch', batchOptions: { partSizeBytes: 1024, uploadConcurrency: 1 } };
      const items = numbers.map((number) => ({ json: { xml: invoiceXml(number) } }));

      const stopped = await runKsefNode({ parameters, items, credentials, settings: { onError: 'continueRegularOutput' } });
      expect(stopped.outputs[0]).toHaveLength(3);
      for (const item of stopped.outputs[0]) {
        expect((item.json.details as { description: string }).description).toMatch(/run the same items again .* no invoice is sent twice/);
      }
      expect(proxy.count('PUT', /\/batch-parts\/1$/)).toBe(1);
      expect(sandbox.state.batchSessions.size).toBe(1);

      const finished = await runKsefNode({ parameters, items, credentials });
      expect(finished.outputs[0].map((item) => [item.json.invoiceNumber, item.json.status])).toEqual(numbers.map((n) => [n, 'accepted']));
      expect(sandbox.state.batchSessions.size).toBe(1);
      expect(proxy.count('PUT', /\/batch-parts\/1$/)).toBe(1);
      const [session] = sandbox.state.batchSessions.values();
      expect(finished.outputs[0][0].json.sessionReferenceNumber).toBe(session.referenceNumber);
    } finally {
      await proxy.close();
      await sandbox.close();
    }
  });

  describe("with n8n's filesystem binary data store", () => {
    const n8nModules = path.join(
      process.env.KSEF_HOSTS_CACHE ?? path.join(os.homedir(), '.cache', 'ksef-flow-hosts'),
      `n8n-${process.env.KSEF_N8N_VERSION ?? '2.41.1'}`,
      'node_modules',
    );
    let restore: (() => void) | undefined;
    let storagePath: string;
    // n8n-core's classes and container, loaded from the n8n install (no types in our node_modules).
    let n8nCore: any;
    let Container: any;
    let onDisk: any;
    const silentLogger = { error() {}, warn() {}, info() {}, debug() {}, scoped: () => ({}) };
    const SEND_BINARY = { resource: 'invoice', operation: 'send', xmlSource: 'binary', binaryPropertyName: 'data', sendMode: 'batch' };

    beforeAll(async () => {
      // The harness keeps binary data in memory; here n8n-core's filesystem mode, as n8n runs by default.
      loadOptionsContext();
      n8nCore = require(path.join(n8nModules, 'n8n-core'));
      ({ Container } = require(path.join(n8nModules, '@n8n', 'di')));
      const inMemory = Container.get(n8nCore.BinaryDataService);
      storagePath = fs.mkdtempSync(path.join(os.tmpdir(), 'ksef-n8n-binary-'));
      onDisk = new n8nCore.BinaryDataService(
        { mode: 'filesystem', availableModes: ['filesystem'], localStoragePath: storagePath, signingSecret: 'harness' },
        Container.get(n8nCore.ErrorReporter),
        silentLogger,
      );
      await onDisk.init();
      Container.set(n8nCore.BinaryDataService, onDisk);
      restore = () => Container.set(n8nCore.BinaryDataService, inMemory);
    });
    afterAll(() => {
      restore?.();
      fs.rmSync(storagePath, { recursive: true, force: true });
    });
    afterEach(() => jest.restoreAllMocks());

    // n8n's helpers (getBinaryPath, getBinaryStream, getBinaryMetadata) call the BinaryDataService in the container.
    test('a filesystem-mode file goes to the engine as its path, read from there: not through n8n’s stream', async () => {
      const getPath = jest.spyOn(onDisk, 'getPath');
      const getAsStream = jest.spyOn(onDisk, 'getAsStream');
      const getMetadata = jest.spyOn(onDisk, 'getMetadata');
      // Once the node has the path, the file there is what goes to KSeF: the stored invoice is replaced by another.
      const stored = [invoiceNumber(), invoiceNumber()];
      const read = [invoiceNumber(), invoiceNumber()];
      getPath.mockImplementation((id: unknown) => {
        const filePath: string = n8nCore.BinaryDataService.prototype.getPath.call(onDisk, id);
        const index = stored.findIndex((number) => fs.readFileSync(filePath, 'utf8').includes(`>${number}<`));
        fs.writeFileSync(filePath, invoiceXml(read[index]));
        return filePath;
      });
      const { outputs, error } = await runKsefNode({
        parameters: SEND_BINARY,
        items: stored.map((number, i) => ({ binary: { data: { text: invoiceXml(number), fileName: `${i}.xml` } } })),
      });

      expect(error).toBeUndefined();
      expect(outputs[0].map((item) => [item.json.invoiceNumber, item.json.status])).toEqual(read.map((number) => [number, 'accepted']));
      expect(getPath.mock.calls.map(([id]) => id)).toEqual([
        expect.stringMatching(/^filesystem-v2:/),
        expect.stringMatching(/^filesystem-v2:/),
      ]);
      expect(getAsStream).not.toHaveBeenCalled();
      expect(getMetadata).not.toHaveBeenCalled();
    });

    test('no file at the path n8n gives, or its path helper fails: read through n8n’s stream instead', async () => {
      const getPath = jest.spyOn(onDisk, 'getPath');
      const getAsStream = jest.spyOn(onDisk, 'getAsStream');
      getPath.mockReturnValueOnce(path.join(storagePath, 'no-such-file')).mockImplementationOnce(() => {
        throw new Error('no path helper here');
      });
      const numbers = [invoiceNumber(), invoiceNumber()];
      const { outputs, error } = await runKsefNode({
        parameters: SEND_BINARY,
        items: numbers.map((number, i) => ({ binary: { data: { text: invoiceXml(number), fileName: `${i}.xml` } } })),
      });

      expect(error).toBeUndefined();
      expect(outputs[0].map((item) => [item.json.invoiceNumber, item.json.status])).toEqual(numbers.map((number) => [number, 'accepted']));
      expect(getPath).toHaveBeenCalledTimes(2);
      expect(getAsStream).toHaveBeenCalledTimes(2);
    });

    test('binary data in another mode (S3 here, kept in memory) goes through n8n’s stream, not a path', async () => {
      // n8n's S3 and Azure modes are n8n-core's BinaryDataBlobManager over a byte store with no local files: for
      // them getBinaryPath gives the object key, relative (and 'database://...' in database mode).
      const objects = new Map<string, { body: Buffer; metadata: Record<string, unknown> }>();
      const objectStore = {
        async write(key: string, body: Buffer, metadata: Record<string, unknown> = {}) {
          objects.set(key, { body, metadata: { ...metadata, fileSize: body.length } });
          return body.length;
        },
        async read(key: string) {
          return objects.get(key)?.body ?? null;
        },
        async readStream(key: string) {
          const object = objects.get(key);
          return object ? Readable.from([object.body]) : null;
        },
        async getMetadata(key: string) {
          return objects.get(key)?.metadata ?? null;
        },
        async copy() {},
        async rename() {},
        async delete() {},
      };
      const s3 = new n8nCore.BinaryDataService(
        { mode: 's3', availableModes: ['filesystem', 's3'], localStoragePath: storagePath, signingSecret: 'harness' },
        Container.get(n8nCore.ErrorReporter),
        silentLogger,
      );
      await s3.init();
      s3.setManager('s3', new n8nCore.BinaryDataBlobManager(objectStore, Container.get(n8nCore.ErrorReporter)));
      const getPath = jest.spyOn(s3, 'getPath');
      const getAsStream = jest.spyOn(s3, 'getAsStream');
      Container.set(n8nCore.BinaryDataService, s3);
      try {
        const numbers = [invoiceNumber(), invoiceNumber()];
        const { outputs, error } = await runKsefNode({
          parameters: SEND_BINARY,
          items: numbers.map((number, i) => ({ binary: { data: { text: invoiceXml(number), fileName: `${i}.xml` } } })),
        });

        expect(error).toBeUndefined();
        expect(objects.size).toBe(2);
        expect(outputs[0].map((item) => [item.json.invoiceNumber, item.json.status])).toEqual(
          numbers.map((number) => [number, 'accepted']),
        );
        expect(getAsStream.mock.calls.map(([id]) => id)).toEqual([expect.stringMatching(/^s3:/), expect.stringMatching(/^s3:/)]);
        expect(getPath).not.toHaveBeenCalled();
      } finally {
        Container.set(n8nCore.BinaryDataService, onDisk);
      }
    });

    test('Batch reads each invoice from its file; an empty file is that item’s own error', async () => {
      const numbers = [invoiceNumber(), invoiceNumber(), invoiceNumber()];
      const items: InputItem[] = [
        { binary: { data: { text: invoiceXml(numbers[0]), fileName: 'a.xml' } } },
        { binary: { data: { text: '', fileName: 'empty.xml' } } },
        { binary: { data: { text: invoiceXml(numbers[2]), fileName: 'c.xml' } } },
      ];
      const { outputs, error } = await runKsefNode({
        parameters: { resource: 'invoice', operation: 'send', xmlSource: 'binary', binaryPropertyName: 'data', sendMode: 'batch' },
        items,
        settings: { onError: 'continueErrorOutput' },
      });

      expect(error).toBeUndefined();
      const [good, bad] = outputs;
      expect(good.map((item) => [item.pairedItem, item.json.invoiceNumber, item.json.status])).toEqual([
        [{ item: 0 }, numbers[0], 'accepted'],
        [{ item: 2 }, numbers[2], 'accepted'],
      ]);
      expect(fs.readdirSync(storagePath).length).toBeGreaterThan(0);
      expect(bad).toHaveLength(1);
      expect(bad[0].pairedItem).toEqual({ item: 1 });
      expect(bad[0].json.error).toMatch(/'data' of item 2 is empty/);
    });

    test('10,000 invoices from files in one execution: one batch session, every item in order with its own KSeF number', async () => {
      const count = 10_000;
      const numbers = Array.from({ length: count }, () => invoiceNumber());
      const items: InputItem[] = numbers.map((number, i) => ({
        binary: { data: { text: invoiceXml(number), fileName: `invoice-${i + 1}.xml` } },
      }));
      const { outputs, error } = await runKsefNode({
        parameters: { resource: 'invoice', operation: 'send', xmlSource: 'binary', binaryPropertyName: 'data', sendMode: 'batch' },
        items,
      });

      expect(error).toBeUndefined();
      const [out] = outputs;
      expect(out).toHaveLength(count);
      expect(out.map((item) => (item.pairedItem as { item: number }).item)).toEqual(numbers.map((_, item) => item));
      expect(out.map((item) => item.json.invoiceNumber)).toEqual(numbers);
      expect(out.every((item) => item.json.status === 'accepted' && item.json.sendMode === 'batch')).toBe(true);
      const ksefNumbers = out.map((item) => item.json.ksefNumber as string);
      expect(ksefNumbers.every((ksefNumber) => isValidKsefNumber(ksefNumber))).toBe(true);
      expect(new Set(ksefNumbers).size).toBe(count);
      expect(new Set(out.map((item) => item.json.sessionReferenceNumber)).size).toBe(1);
    }, 600_000);
  });
});
