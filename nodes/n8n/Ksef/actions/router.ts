import type { IExecuteFunctions, INodeExecutionData } from 'n8n-workflow';
import { NodeOperationError } from 'n8n-workflow';
import * as authentication from './authentication';
import * as certificate from './certificate';
import * as invoice from './invoice';
import type { KsefType } from './node.type';
import * as token from './token';

export async function router(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
  const items = this.getInputData();
  const resource = this.getNodeParameter('resource', 0) as string;
  const operation = this.getNodeParameter('operation', 0) as string;
  const ksefNodeData = { resource, operation } as KsefType;

  switch (ksefNodeData.resource) {
    case 'invoice':
      return [await invoice[ksefNodeData.operation].execute.call(this, items)];
    case 'authentication':
      return [await authentication[ksefNodeData.operation].execute.call(this, items)];
    case 'token':
      return [await token[ksefNodeData.operation].execute.call(this, items)];
    case 'certificate':
      return [await certificate[ksefNodeData.operation].execute.call(this, items)];
    default:
      throw new NodeOperationError(this.getNode(), `The operation "${operation}" of resource "${resource}" is not supported`);
  }
}
