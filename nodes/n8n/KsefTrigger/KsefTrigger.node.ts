import type { IDataObject, INodeExecutionData, INodeType, INodeTypeDescription, IPollFunctions } from 'n8n-workflow';
import { NodeConnectionTypes, NodeOperationError } from 'n8n-workflow';
import type { ExportedInvoice, InvoiceSubjectType, KsefClient, SyncCheckpoint } from '../../../shared';
import { friendlyInvoiceJson, invoiceMetadataJson, invoiceXmlBinary, SUBJECT_TYPE_OPTIONS } from '../Ksef/helpers/invoices';
import { getKsefClient, KSEF_CREDENTIAL_NAME, ksefApiTest, withStatefulKsefClient } from '../Ksef/transport/client';
import { toNodeError } from '../Ksef/transport/errors';
import { nodeStateStore } from '../Ksef/transport/state';

/** How many of the latest invoices "Fetch Test Event" shows. */
const SAMPLE_SIZE = 5;
/** How far back "Fetch Test Event" looks when the trigger starts from now. */
const SAMPLE_DAYS = 30;
const DAY_MS = 86_400_000;

interface TriggerOptions {
  includeXml?: boolean;
  includeFriendlyJson?: boolean;
}

/**
 * n8n 2.x gives a poll a time budget (`getPollBudgetMs`, 36 s of a 45 s tick by default) and abandons a poll that
 * runs past it, dropping what it fetched and the static data it changed. Half of what is left goes to waiting for
 * KSeF's export (one still being built is kept in the checkpoint and resumed by the next poll), the rest to reading
 * the package; a further export is started only while more than half the budget is left. Older n8n has no budget.
 */
type BudgetedPollFunctions = IPollFunctions & { getPollBudgetMs?: () => number };

/**
 * Where the sync of one subject type stands, in the node's workflow static data: the engine's checkpoint once
 * invoices were delivered, before that the point the first run starts from.
 */
const checkpointKey = (subjectType: InvoiceSubjectType) => `syncCheckpoint.${subjectType}`;
const startKey = (subjectType: InvoiceSubjectType) => `syncStart.${subjectType}`;

export class KsefTrigger implements INodeType {
  description: INodeTypeDescription = {
    displayName: 'KSeF Trigger',
    name: 'ksefTrigger',
    icon: 'file:../Ksef/ksef.svg',
    group: ['trigger'],
    version: 1,
    subtitle: '={{ $parameter["event"] }}',
    description: 'Starts the workflow when new invoices arrive in KSeF 2.0: received, issued, as third party or as authorized subject',
    defaults: { name: 'KSeF Trigger' },
    polling: true,
    inputs: [],
    outputs: [NodeConnectionTypes.Main],
    credentials: [{ name: KSEF_CREDENTIAL_NAME, required: true, testedBy: 'ksefApiTest' }],
    properties: [
      {
        displayName: 'Trigger On',
        name: 'event',
        type: 'options',
        default: 'Subject2',
        options: SUBJECT_TYPE_OPTIONS.map((option) => ({ ...option, name: `New Invoice ${option.name}` })),
        description: "Which new invoices start the workflow: our company's role on them",
      },
      {
        displayName: 'Start From',
        name: 'startFrom',
        type: 'options',
        default: 'now',
        options: [
          { name: 'Now', value: 'now', description: 'Only invoices KSeF stores after the workflow is activated' },
          { name: 'Days Back', value: 'daysBack', description: 'Also the invoices of the last days, delivered by the first poll' },
        ],
        description:
          'Where the first poll after activation starts. Later polls carry on from where the last one stopped (kept with the workflow), so changing this has no effect once invoices were delivered.',
      },
      {
        displayName: 'Days Back',
        name: 'daysBack',
        type: 'number',
        default: 7,
        typeOptions: { minValue: 1 },
        displayOptions: { show: { startFrom: ['daysBack'] } },
        description: 'How many days before activation the first poll starts',
      },
      {
        displayName: 'Options',
        name: 'options',
        type: 'collection',
        placeholder: 'Add option',
        default: {},
        options: [
          {
            displayName: 'Include Friendly JSON',
            name: 'includeFriendlyJson',
            type: 'boolean',
            default: false,
            description:
              "Whether to add each invoice's content as JSON in 'invoice' (seller, buyer, lines, VAT summary, totals, payment), read from its XML",
          },
          {
            displayName: 'Include XML',
            name: 'includeXml',
            type: 'boolean',
            default: true,
            description: "Whether to attach each invoice's original XML as binary 'data' (off: metadata only, a smaller download)",
          },
        ],
      },
    ],
  };

  methods = {
    credentialTest: { ksefApiTest },
  };

  async poll(this: IPollFunctions): Promise<INodeExecutionData[][] | null> {
    const subjectType = this.getNodeParameter('event') as InvoiceSubjectType;
    const options = this.getNodeParameter('options', {}) as TriggerOptions;
    if (this.getMode() === 'manual') return [await sample.call(this, subjectType, options)];

    const state = nodeStateStore.call(this);
    let checkpoint = (await state.get<SyncCheckpoint>(checkpointKey(subjectType))) ?? null;
    let startFrom = checkpoint ? undefined : await state.get<string>(startKey(subjectType));
    if (!checkpoint && !startFrom) {
      if (this.getNodeParameter('startFrom') === 'now') {
        // Nothing to deliver yet: n8n saves this with the workflow when it activates the trigger.
        const now = new Date().toISOString();
        await state.set(startKey(subjectType), now);
        this.logger.info(`KSeF Trigger: delivering invoices stored in KSeF from ${now} on`);
        return null;
      }
      startFrom = new Date(Date.now() - (this.getNodeParameter('daysBack', 7) as number) * DAY_MS).toISOString();
    }

    const includeXml = options.includeXml ?? true;
    const items: INodeExecutionData[] = [];
    const budgetMs = (this as BudgetedPollFunctions).getPollBudgetMs?.();
    const deadline = budgetMs === undefined ? Infinity : Date.now() + budgetMs;
    await withStatefulKsefClient.call(this, state, async (client: KsefClient) => {
      for (;;) {
        const leftMs = deadline - Date.now();
        if (items.length > 0 && leftMs < (budgetMs ?? 0) / 2) return;
        let batch;
        try {
          batch = await client.invoices.sync({
            subjectType,
            checkpoint,
            ...(startFrom && { startFrom }),
            includeXml: includeXml || !!options.includeFriendlyJson,
            ...(Number.isFinite(leftMs) && { maxWaitMs: Math.max(0, Math.floor(leftMs / 2)) }),
          });
        } catch (error) {
          // What was fetched so far is delivered with its checkpoint; the next poll meets the error again.
          if (items.length === 0) throw toNodeError(this.getNode(), error);
          this.logger.warn(`KSeF Trigger: delivering ${items.length} invoices, then stopping: ${(error as Error).message}`);
          return;
        }
        for (const invoice of batch.invoices) items.push(await invoiceItem.call(this, invoice, includeXml, options));
        checkpoint = batch.checkpoint;
        startFrom = undefined;
        if (batch.nextFetchAt) {
          this.logger.info(`KSeF Trigger: next fetch from ${batch.nextFetchAt}: ${batch.nextFetchReason ?? 'KSeF asks to wait'}`);
          return;
        }
        if (!batch.more) return;
      }
    });
    // The checkpoint goes into static data only now, with the items: n8n saves both when it takes them.
    if (checkpoint) {
      await state.set(checkpointKey(subjectType), checkpoint);
      await state.delete(startKey(subjectType));
    }
    return items.length > 0 ? [items] : null;
  }
}

/** An invoice as an output item: its flat metadata, optionally its JSON, its XML as binary `data` when asked for. */
async function invoiceItem(
  this: IPollFunctions,
  { ksefNumber, metadata, xml }: ExportedInvoice,
  includeXml: boolean,
  options: TriggerOptions,
): Promise<INodeExecutionData> {
  const json: IDataObject = { ...invoiceMetadataJson(metadata), ...(xml && options.includeFriendlyJson && friendlyInvoiceJson(xml)) };
  return { json, ...(xml && includeXml && { binary: await invoiceXmlBinary(this.helpers, ksefNumber, xml) }) };
}

/**
 * "Fetch Test Event": the latest few invoices, found by a metadata query and read one by one, so the user sees
 * real data to map; the checkpoint does not move and no export is used.
 */
async function sample(this: IPollFunctions, subjectType: InvoiceSubjectType, options: TriggerOptions): Promise<INodeExecutionData[]> {
  const days = this.getNodeParameter('startFrom') === 'daysBack' ? (this.getNodeParameter('daysBack', 7) as number) : SAMPLE_DAYS;
  const client = await getKsefClient.call(this);
  const items: INodeExecutionData[] = [];
  try {
    const latest = client.invoices.query(
      { subjectType, dateRange: { dateType: 'PermanentStorage', from: new Date(Date.now() - days * DAY_MS).toISOString() } },
      { sortOrder: 'Desc', pageSize: 10 },
    );
    const includeXml = options.includeXml ?? true;
    for await (const metadata of latest) {
      const xml = includeXml || options.includeFriendlyJson ? (await client.invoices.get(metadata.ksefNumber)).xml : undefined;
      items.push(await invoiceItem.call(this, { ksefNumber: metadata.ksefNumber, metadata, xml }, includeXml, options));
      if (items.length >= SAMPLE_SIZE) break;
    }
  } catch (error) {
    throw toNodeError(this.getNode(), error);
  }
  if (items.length === 0) {
    const role = SUBJECT_TYPE_OPTIONS.find((option) => option.value === subjectType)?.name ?? subjectType;
    throw new NodeOperationError(this.getNode(), `No invoices (${role}) in KSeF in the last ${days} days to show as a sample`, {
      description:
        'The trigger works all the same: once activated it delivers new invoices as KSeF stores them. On the embedded sandbox, issue an invoice to the demo company or seed received invoices to see one.',
    });
  }
  return items;
}
