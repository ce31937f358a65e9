import type { IExecuteFunctions, INodeExecutionData } from 'n8n-workflow';
import { NodeOperationError } from 'n8n-workflow';
import * as invoice from './invoice';
import type { KsefType } from './node.type';

export async function router(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
  const items = this.getInputData();
  const ksefNodeData = {
    resource: this.getNodeParameter('resource', 0),
    operation: this.getNodeParameter('operation', 0),
  } as KsefType;

  switch (ksefNodeData.resource) {
    case 'invoice':
      return [await invoice[ksefNodeData.operation].execute.call(this, items)];
    default:
      throw new NodeOperationError(
        this.getNode(),
        `The operation "${String(ksefNodeData.operation)}" of resource "${String(ksefNodeData.resource)}" is not supported`,
      );
  }
}
