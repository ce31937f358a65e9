/**
 * The KSeF Trigger's poll as n8n runs it (n8n-core's PollContext, test/n8n/harness.ts) against a sandbox. n8n keeps
 * a polling node's static data in its database and saves it when the poll hands over items (and when it activates
 * the trigger); a poll that returns nothing, fails, or whose items are never taken (n8n stopped first) leaves the
 * saved data as it was. `Activation` below keeps the saved copy exactly so, so every poll starts from what a
 * restarted n8n would load.
 */
import type { ICredentialDataDecryptedObject, IDataObject, INodeExecutionData, INodeParameters } from 'n8n-workflow';
import { buildDemoInvoice } from '../../sandbox/samples/demoInvoice';
import { startSandbox, type SandboxHandle } from '../../sandbox';
import { KsefTrigger } from '../../nodes/n8n/KsefTrigger/KsefTrigger.node';
import { binaryText, describeWithN8n, pollTrigger, runKsefNode } from './harness';
import { sandboxCredentialData } from '../support/n8nCredential';

const HWM_DELAY_MS = 300;
const ISSUED = { event: 'Subject1' };

/** One active workflow's trigger over time: its parameters and the static data n8n has saved for it. */
class Activation {
  saved: IDataObject = {};
  private activated = false;

  constructor(
    private readonly parameters: INodeParameters,
    private readonly credentials: ICredentialDataDecryptedObject,
  ) {}

  /** One poll; n8n saves the static data when the poll returned items, and after the activation poll. */
  async poll(): Promise<INodeExecutionData[]> {
    const { items, staticData } = await pollTrigger({ parameters: this.parameters, credentials: this.credentials, staticData: this.saved });
    if (items || !this.activated) this.saved = staticData;
    this.activated = true;
    return items ?? [];
  }

  /** A poll whose items n8n never took (it stopped before saving): nothing is saved. */
  async pollLost(): Promise<INodeExecutionData[]> {
    const { items } = await pollTrigger({ parameters: this.parameters, credentials: this.credentials, staticData: this.saved });
    return items ?? [];
  }
}

test('the KSeF Trigger is a polling trigger and never an AI-agent tool (a tool call would move its checkpoint)', () => {
  const { description } = new KsefTrigger();
  expect(description).toMatchObject({ polling: true, group: ['trigger'], inputs: [] });
  expect(description.usableAsTool).toBeUndefined();
});

describeWithN8n('KSeF Trigger in n8n', () => {
  let sandbox: SandboxHandle;
  let credentials: Record<string, string>;
  let serial = 0;

  /**
   * The demo company issues invoices (Send through the KSeF node); resolves once KSeF's high-water mark passed them,
   * with their KSeF numbers in the order KSeF lists them.
   */
  async function issue(count: number): Promise<string[]> {
    const items = Array.from({ length: count }, () => {
      serial += 1;
      return { json: { xml: buildDemoInvoice({ invoiceNumber: `FV/TRIGGER/${process.pid}/${serial}`, lines: 1 }) } };
    });
    const { outputs } = await runKsefNode({
      parameters: { resource: 'invoice', operation: 'send', xmlSource: 'text', xml: '={{ $json.xml }}', downloadUpo: false },
      items,
      credentials,
    });
    return storedBelowHwm(outputs[0].map(({ json }) => json.ksefNumber as string));
  }

  /**
   * Waits until the sandbox has permanently stored `ksefNumbers` (a moment after it numbered them) and its high-water
   * mark (now less HWM_DELAY_MS, hwm.md of CIRFMF/ksef-docs) has reached them, so a sync sees them all; a fixed pause
   * does not do on a busy machine, where the storage itself comes late. Returns them ordered as KSeF lists them: by
   * permanent storage date, ties (invoices stored in the same millisecond) by KSeF number.
   */
  async function storedBelowHwm(ksefNumbers: string[]): Promise<string[]> {
    const storedAt = (ksefNumber: string) => sandbox.state.invoicesByKsefNumber.get(ksefNumber)?.invoice.permanentStorageDate?.getTime();
    for (;;) {
      const dates = ksefNumbers.map(storedAt);
      const hwm = sandbox.clock.now().getTime() - HWM_DELAY_MS;
      if (dates.every((date) => date !== undefined && date <= hwm)) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return [...ksefNumbers].sort((a, b) => storedAt(a)! - storedAt(b)! || (a < b ? -1 : 1));
  }

  const numbers = (items: INodeExecutionData[]) => items.map(({ json }) => json.ksefNumber as string);

  beforeAll(async () => {
    sandbox = await startSandbox({
      hwmDelayMs: HWM_DELAY_MS,
      rateLimits: { invoiceExport: { perSecond: 100, perMinute: 1000, perHour: 10_000 } },
    });
    credentials = sandboxCredentialData(sandbox);
  });
  afterAll(async () => {
    await sandbox?.close();
  });

  test('starting from now, the activation poll delivers nothing, then each new invoice comes exactly once, XML attached', async () => {
    const before = await issue(1);
    const trigger = new Activation({ ...ISSUED, startFrom: 'now' }, credentials);

    expect(await trigger.poll()).toEqual([]);
    const first = await issue(2);
    const delivered = await trigger.poll();
    expect(numbers(delivered)).toEqual(first);
    expect(numbers(delivered)).not.toContain(before[0]);
    expect(delivered[0].binary?.data).toMatchObject({ fileName: `${first[0]}.xml`, mimeType: 'application/xml' });
    expect(await binaryText(delivered[0], 'data')).toContain('<P_2>FV/TRIGGER/');
    expect(delivered[0].json).toMatchObject({ sellerNip: sandbox.contextIdentifier.value });

    expect(await trigger.poll()).toEqual([]);
    const second = await issue(1);
    expect(numbers(await trigger.poll())).toEqual(second);
    expect(await trigger.poll()).toEqual([]);
  });

  test('invoices other sellers issue to the demo company come once each as received invoices', async () => {
    const trigger = new Activation({ event: 'Subject2', startFrom: 'now' }, credentials);
    await trigger.poll();
    const received = (count: number) => storedBelowHwm(sandbox.seedReceived(count));

    const first = await received(3);
    const delivered = await trigger.poll();
    expect(numbers(delivered)).toEqual(first);
    for (const { json } of delivered) {
      expect(json.sellerNip).not.toBe(sandbox.contextIdentifier.value);
      expect(json).toMatchObject({ buyerIdentifierType: 'Nip', buyerIdentifier: sandbox.contextIdentifier.value });
    }
    const second = await received(2);
    expect(numbers(await trigger.poll())).toEqual(second);
    expect(await trigger.poll()).toEqual([]);
  });

  test('a batch n8n never took is delivered again by the next poll, and never twice once taken', async () => {
    const trigger = new Activation({ ...ISSUED, startFrom: 'now' }, credentials);
    await trigger.poll();
    const issued = await issue(2);

    expect(numbers(await trigger.pollLost())).toEqual(issued);
    expect(numbers(await trigger.poll())).toEqual(issued);
    expect(await trigger.poll()).toEqual([]);
  });

  test("an export still being built when n8n's poll budget runs out is kept and resumed by the next poll, not started again", async () => {
    const trigger = new Activation({ ...ISSUED, startFrom: 'now' }, credentials);
    await trigger.poll();
    const issued = await issue(2);
    const exportsBefore = sandbox.state.invoiceExports.byReference.size;
    sandbox.holdExports(true);
    let held;
    try {
      // n8n 2.x abandons a poll past its budget (36 s by default); 1 s here. Without the budget the poll would wait
      // 120 s for the export, and n8n would drop it and what it changed.
      held = await pollTrigger({ parameters: { ...ISSUED, startFrom: 'now' }, credentials, staticData: trigger.saved, pollBudgetMs: 1000 });
    } finally {
      sandbox.holdExports(false);
    }
    expect(held.items).toBeNull();
    expect(JSON.stringify(held.staticData)).toMatch(/"pending":\{"referenceNumber":"[^"]+"/);

    // n8n 2.x commits the static data of a poll that emitted nothing (its poll cursor), so the next poll starts from it.
    trigger.saved = held.staticData;
    expect(numbers(await trigger.poll())).toEqual(issued);
    expect(sandbox.state.invoiceExports.byReference.size).toBe(exportsBefore + 1);
    expect(await trigger.poll()).toEqual([]);
  });

  test('starting days back, the first poll delivers the earlier invoices; metadata only and the friendly JSON on request', async () => {
    const earlier = await issue(2);
    const trigger = new Activation(
      { ...ISSUED, startFrom: 'daysBack', daysBack: 1, options: { includeXml: false, includeFriendlyJson: true } },
      credentials,
    );

    const delivered = await trigger.poll();
    expect(numbers(delivered)).toEqual(expect.arrayContaining(earlier));
    const last = delivered.find(({ json }) => json.ksefNumber === earlier[1])!;
    expect(last.binary).toBeUndefined();
    expect(last.json.invoice).toMatchObject({ invoiceNumber: last.json.invoiceNumber });
    expect(await trigger.poll()).toEqual([]);
  });

  test('each subject type keeps its own checkpoint', async () => {
    const trigger = new Activation({ event: 'Subject2', startFrom: 'now' }, credentials);
    await trigger.poll();
    await issue(1);

    expect(await trigger.poll()).toEqual([]);
    expect(Object.keys(trigger.saved).filter((key) => key.includes('Subject1'))).toEqual([]);
  });

  test("the embedded sandbox preloads the credential's 'Demo: Received Invoices to Seed' for a first run to find", async () => {
    const demo = { sandboxSeedReceived: 4 };
    const sample = await pollTrigger({ parameters: { event: 'Subject2', startFrom: 'now' }, credentials: demo, mode: 'manual' });
    expect(sample.items).toHaveLength(4);
    const trigger = new Activation({ event: 'Subject2', startFrom: 'daysBack', daysBack: 31, options: { includeXml: false } }, demo);
    // The last seeded invoice is stored as the sandbox starts: the sync sees it once the high-water mark (2 s behind) passed it.
    await new Promise((resolve) => setTimeout(resolve, 2_500));

    expect(numbers(await trigger.poll()).sort()).toEqual(numbers(sample.items!).sort());
    expect(await trigger.poll()).toEqual([]);
  });

  test('Fetch Test Event shows the latest invoices and saves nothing', async () => {
    const latest = await issue(1);
    const { items, staticData } = await pollTrigger({ parameters: { ...ISSUED, startFrom: 'now' }, credentials, mode: 'manual' });

    expect(numbers(items ?? [])[0]).toBe(latest[0]);
    expect(items!.length).toBeLessThanOrEqual(5);
    expect(await binaryText(items![0], 'data')).toContain('<P_2>FV/TRIGGER/');
    expect(staticData).toEqual({});
  });
});
