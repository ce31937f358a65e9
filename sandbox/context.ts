/** What every chapter's rules share: state, keys, time, scheduling, storage and configuration. */
import type { Clock } from '../shared/protocol/types';
import type { SandboxCertificateAuthority } from './certificates/ca';
import type { OpenApiSpec } from './http/openapi';
import type { SandboxKey } from './security/keys';
import type { SandboxState } from './state';
import type { SandboxStorage } from './storage/store';

export interface Scheduler {
  /** Runs `task` after `delayMs` of real time; pending tasks are dropped when the sandbox closes. */
  after(delayMs: number, task: () => void | Promise<void>): void;
  /** False once the sandbox is closing: queued work is dropped instead of started. */
  readonly running: boolean;
}

export interface SandboxContext {
  state: SandboxState;
  keys: SandboxKey[];
  clock: Clock;
  jwtSecret: Buffer;
  processingDelayMs: number;
  /** The official spec folder, when the sandbox has one. */
  specDir?: string;
  spec?: OpenApiSpec;
  scheduler: Scheduler;
  storage: SandboxStorage;
  /** Issues KSeF certificates. */
  certificateAuthority: SandboxCertificateAuthority;
  /** How far `permanentStorageHwmDate` lags behind now (`hwmDelayMs` option). */
  hwmDelayMs: number;
  /** Matches of one metadata query that can be paged through before `isTruncated` (`queryRecordLimit` option; KSeF: 10,000). */
  queryRecordLimit: number;
}
