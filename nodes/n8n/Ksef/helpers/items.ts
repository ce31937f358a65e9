import type { IBinaryKeyData, IDataObject, IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { NodeApiError, NodeOperationError } from 'n8n-workflow';
import { toNodeError } from '../transport/errors';

/** How the editor numbers items (from 1) in messages; n8n's own `itemIndex` stays 0-based. */
export function itemLabel(itemIndex: number): string {
  return `item ${itemIndex + 1}`;
}

/**
 * The output item of a failed input item: `error` (what went wrong, naming the item as the editor does) and
 * `details` (what to do, and what is known of the item's invoice or request). n8n sends an item to the node's error
 * output ("On Error: Continue (using error output)") only when its json holds nothing but `error`, `message` and
 * `details`, or when the item carries an n8n error object, whose json n8n then cuts down to the message
 * (n8n-core WorkflowExecute.handleNodeErrorOutput and normalizeNodeErrors); so everything else goes in `details`.
 * On the error output n8n adds the input item's fields itself; with "Continue (using regular output)" the
 * 'Include Input Fields' option adds them.
 */
export function errorItem(
  this: IExecuteFunctions,
  items: INodeExecutionData[],
  error: NodeApiError | NodeOperationError,
  itemIndex: number,
  details: IDataObject = {},
): INodeExecutionData {
  const { description } = error;
  const allDetails = { ...(description && { description }), ...details };
  const json: IDataObject = { error: error.message, ...(Object.keys(allDetails).length > 0 && { details: allDetails }) };
  return {
    json: this.getNode().onError === 'continueErrorOutput' ? json : withInputFields.call(this, items, itemIndex, json),
    pairedItem: { item: itemIndex },
  };
}

/**
 * Runs an operation once per input item. Every output item is paired with its input item; with "On Error:
 * Continue" a failing item yields an error item (see `errorItem`) and the others go on. `fieldLabels` maps the
 * engine's names of the operation's fields to the editor's labels, for error messages.
 */
export async function executeForEachItem(
  this: IExecuteFunctions,
  items: INodeExecutionData[],
  operation: (this: IExecuteFunctions, itemIndex: number) => Promise<INodeExecutionData | INodeExecutionData[]>,
  fieldLabels: Record<string, string> = {},
): Promise<INodeExecutionData[]> {
  const output: INodeExecutionData[] = [];
  for (let i = 0; i < items.length; i++) {
    try {
      for (const result of [await operation.call(this, i)].flat()) output.push({ ...result, pairedItem: { item: i } });
    } catch (error) {
      const nodeError = toNodeError(this.getNode(), error, i, fieldLabels);
      if (!this.continueOnFail()) throw nodeError;
      output.push(errorItem.call(this, items, nodeError, i));
    }
  }
  return output;
}

/** The 'Include Input Fields' option: the input item's fields after the result's, which win on a clash. */
export const INCLUDE_INPUT_FIELDS_OPTION: INodeProperties = {
  displayName: 'Include Input Fields',
  name: 'includeInputFields',
  type: 'boolean',
  default: false,
  description:
    "Whether to copy the input item's fields into the result (after the result's own fields, which win on a name clash), e.g. to keep an ERP document ID with its KSeF number",
};

export function withInputFields(this: IExecuteFunctions, items: INodeExecutionData[], i: number, json: IDataObject): IDataObject {
  if (!(this.getNodeParameter('options.includeInputFields', i, false) as boolean)) return json;
  const merged: IDataObject = { ...json };
  for (const [name, value] of Object.entries(items[i].json)) if (!(name in merged)) merged[name] = value;
  return merged;
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
    binary[property] = await this.helpers.prepareBinaryData(
      Buffer.isBuffer(content) ? content : Buffer.from(content, 'utf8'),
      fileName,
      mimeType,
    );
  }
  return binary;
}

/**
 * The bytes of the binary property `name` of item `i`, or an error saying which properties the item has. `field`
 * is the editor's label of the parameter naming the property, `what` the expected file (e.g. 'the invoice XML')
 * and `alternative` another way to give it, if there is one.
 */
export async function binaryInput(
  this: IExecuteFunctions,
  items: INodeExecutionData[],
  i: number,
  name: string,
  what: string,
  { field = 'Input Binary Field', alternative = '' }: { field?: string; alternative?: string } = {},
): Promise<Buffer> {
  if (!items[i].binary?.[name]) {
    const available = Object.keys(items[i].binary ?? {});
    throw new NodeOperationError(this.getNode(), `Set '${field}' to the binary property with ${what}: ${itemLabel(i)} has no '${name}'`, {
      itemIndex: i,
      description:
        (available.length > 0 ? `This item's binary properties: ${available.join(', ')}.` : 'This item has no binary data.') +
        (alternative ? ` ${alternative}` : ''),
    });
  }
  const content = await this.helpers.getBinaryDataBuffer(i, name);
  if (content.length === 0) {
    throw new NodeOperationError(this.getNode(), `Point '${field}' at a file with ${what}: '${name}' of ${itemLabel(i)} is empty`, {
      itemIndex: i,
    });
  }
  return content;
}
