import type { IExecuteFunctions, INodeExecutionData, INodeType, INodeTypeDescription } from 'n8n-workflow';
import { router } from './actions/router';
import { versionDescription } from './actions/versionDescription';
import { ksefApiTest } from './transport/client';

export class Ksef implements INodeType {
  description: INodeTypeDescription = versionDescription;

  methods = {
    credentialTest: { ksefApiTest },
  };

  async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
    return await router.call(this);
  }
}
