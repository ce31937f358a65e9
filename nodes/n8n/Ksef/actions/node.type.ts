import type { AllEntities } from 'n8n-workflow';

type NodeMap = {
  invoice: 'send';
  authentication: 'authenticate' | 'getAllSessions' | 'revokeSession';
  token: 'generate' | 'get' | 'getAll' | 'revoke';
  certificate: 'enroll' | 'generateTestCertificate' | 'getAll' | 'getEnrollmentData' | 'getLimits' | 'retrieve' | 'revoke';
};

export type KsefType = AllEntities<NodeMap>;
