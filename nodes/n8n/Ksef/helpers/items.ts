import type { IBinaryKeyData, IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { NodeOperationError } from 'n8n-workflow';
import { toNodeError } from '../transport/errors';

/**
 * Runs an operation once per input item. Every output item is paired with its input item; with "On Error:
 * Continue" a failing item yields an item with `error` (and `description`) and the others go on.
 */
export async function executeForEachItem(
  this: IExecuteFunctions,
  items: INodeExecutionData[],
  operation: (this: IExecuteFunctions, itemIndex: number) => Promise<INodeExecutionData | INodeExecutionData[]>,
): Promise<INodeExecutionData[]> {
  const output: INodeExecutionData[] = [];
  for (let i = 0; i < items.length; i++) {
    try {
      for (const result of [await operation.call(this, i)].flat()) output.push({ ...result, pairedItem: { item: i } });
    } catch (error) {
      const nodeError = toNodeError(this.getNode(), error, i);
      if (!this.continueOnFail()) throw nodeError;
      const { description } = nodeError;
      output.push({ json: { error: nodeError.message, ...(description && { description }) }, pairedItem: { item: i } });
    }
  }
  return output;
}

/** The "Return All" and "Limit" parameters of a list operation, as n8n-nodes-base has them. */
export function returnAllOrLimit(maxLimit: number): INodeProperties[] {
  return [
    {
      displayName: 'Return All',
      name: 'returnAll',
      type: 'boolean',
      default: false,
      description: 'Whether to return all results or only up to a given limit',
    },
    {
      displayName: 'Limit',
      name: 'limit',
      type: 'number',
      displayOptions: { show: { returnAll: [false] } },
      typeOptions: { minValue: 1, maxValue: maxLimit },
      default: 50,
      description: 'Max number of results to return',
    },
  ];
}

/** Reads a list to the end ("Return All") or up to "Limit" entries; later pages are then never requested. */
export async function collectList<T>(this: IExecuteFunctions, list: AsyncIterable<T>, itemIndex: number): Promise<T[]> {
  const returnAll = this.getNodeParameter('returnAll', itemIndex, false) as boolean;
  const limit = returnAll ? Infinity : (this.getNodeParameter('limit', itemIndex, 50) as number);
  const entries: T[] = [];
  if (limit <= 0) return entries;
  for await (const entry of list) {
    entries.push(entry);
    if (entries.length >= limit) break;
  }
  return entries;
}

/** Files as n8n binary properties, keyed by property name. */
export async function binaryFiles(
  this: IExecuteFunctions,
  files: Record<string, { content: Buffer | string; fileName: string; mimeType: string }>,
): Promise<IBinaryKeyData> {
  const binary: IBinaryKeyData = {};
  for (const [property, { content, fileName, mimeType }] of Object.entries(files)) {
    binary[property] = await this.helpers.prepareBinaryData(Buffer.isBuffer(content) ? content : Buffer.from(content, 'utf8'), fileName, mimeType);
  }
  return binary;
}

/**
 * The bytes of the binary property `name` of item `i`, or an error saying which properties the item has. `what`
 * names the expected file (e.g. 'the invoice XML') and `alternative` another way to give it, if there is one.
 */
export async function binaryInput(
  this: IExecuteFunctions,
  items: INodeExecutionData[],
  i: number,
  name: string,
  what: string,
  alternative = '',
): Promise<Buffer> {
  if (!items[i].binary?.[name]) {
    const available = Object.keys(items[i].binary ?? {});
    throw new NodeOperationError(this.getNode(), `Item ${i} has no binary property '${name}'`, {
      itemIndex: i,
      description:
        `Set 'Input Binary Field' to the binary property that holds ${what}` +
        (available.length > 0 ? ` (this item has: ${available.join(', ')})` : ' (this item has no binary data)') +
        `${alternative}.`,
    });
  }
  const content = await this.helpers.getBinaryDataBuffer(i, name);
  if (content.length === 0) {
    throw new NodeOperationError(this.getNode(), `The binary property '${name}' of item ${i} is empty`, {
      itemIndex: i,
      description: `Point 'Input Binary Field' at the binary property that holds ${what} file.`,
    });
  }
  return content;
}
