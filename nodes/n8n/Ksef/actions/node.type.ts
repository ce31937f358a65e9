import type { AllEntities } from 'n8n-workflow';

type NodeMap = {
  invoice: 'send';
};

export type KsefType = AllEntities<NodeMap>;
