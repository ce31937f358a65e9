import type { InvoiceSubjectType, SyncCheckpoint } from '../../shared';
import { NodeInputError } from './base/inputNode';
import { registerSourceNode, type SourceNodeDef } from './base/sourceNode';
import { invoiceOutput, type InvoiceOutput } from './invoiceOutput';
import type { NodeAPI } from './runtimeTypes';

interface KsefSyncDef extends SourceNodeDef {
  subjectType?: InvoiceSubjectType;
  /** The first run's start: 'now' (only invoices stored from then on) or 'daysBack'. */
  startFrom?: 'now' | 'daysBack';
  daysBack?: number | string;
  includeXml?: boolean;
  includeJson?: boolean;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Incremental invoice sync (przyrostowe-pobieranie-faktur.md and hwm.md of CIRFMF/ksef-docs): on each input message,
 * the invoices KSeF stored since the checkpoint in the node's context, each exactly once. The engine's sync gives a
 * batch and the next checkpoint; the source node base (base/sourceNode.ts) sends the batch and only then stores the
 * checkpoint, so a crash in between re-delivers and never loses.
 */
export default function registerKsefSync(RED: NodeAPI): void {
  registerSourceNode<KsefSyncDef, InvoiceOutput, SyncCheckpoint>(RED, 'ksef-sync', {
    fetch: async ({ def, node, client, checkpoint }) => {
      const subjectType = def.subjectType || 'Subject2';
      const includeJson = def.includeJson === true;
      const ksef = client();
      const batch = await ksef.invoices.sync({
        subjectType,
        // A checkpoint of another subject type (the setting was changed) does not say where this one stands.
        checkpoint: checkpoint?.subjectType === subjectType ? checkpoint : undefined,
        startFrom: startOf(def),
        includeXml: def.includeXml !== false || includeJson,
      });
      return {
        items: batch.invoices.map((invoice) =>
          invoiceOutput(invoice, {
            includeXml: def.includeXml !== false,
            includeJson,
            onJsonError: (ksefNumber, reason) => node.warn(RED._('ksef-sync.warnings.no-json', { ksefNumber, reason })),
          }),
        ),
        checkpoint: batch.checkpoint,
        more: batch.more,
        nextFetchAt: batch.nextFetchAt,
      };
    },
  });

  /** Where a first run starts; checked here so the message names the field as the editor labels it. */
  function startOf(def: KsefSyncDef): Date | undefined {
    if (def.startFrom !== 'daysBack') return undefined;
    const days = Number(def.daysBack);
    if (!Number.isInteger(days) || days < 1 || days > 3650) {
      throw new NodeInputError(RED._('ksef-sync.errors.bad-days-back', { value: String(def.daysBack ?? '') }));
    }
    return new Date(Date.now() - days * DAY_MS);
  }
}
