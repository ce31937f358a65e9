import type { AllEntities } from 'n8n-workflow';

type NodeMap = {
  invoice: 'download' | 'get' | 'getStatus' | 'search' | 'send';
  authentication: 'authenticate' | 'getAllSessions' | 'revokeSession';
  token: 'generate' | 'get' | 'getAll' | 'revoke';
  certificate:
    | 'completeEnrollment'
    | 'enroll'
    | 'generateTestCertificate'
    | 'getAll'
    | 'getEnrollmentData'
    | 'getEnrollmentStatus'
    | 'getLimits'
    | 'retrieve'
    | 'revoke';
};

export type KsefType = AllEntities<NodeMap>;
