/** Where a client sends, and which environment answered. */
import type { ContextIdentifier } from '../protocol/types';

/** Which environment answered, as results report it (`environment`). */
export type EnvironmentName = 'sandbox' | 'test' | 'demo' | 'production' | 'custom';

/**
 * An environment handed to the engine as an object instead of named: the embedded sandbox (`embeddedSandbox()` of
 * the package's `dist/sandbox` entry). The engine never loads a simulator itself, so a script that names no
 * environment fails instead of sending invoices to one.
 */
export interface EnvironmentProvider {
  /** What results report as `environment`: only the simulator is handed in. */
  readonly name: 'sandbox';
  /** Where its API is (starting it when needed), with the demo context and KSeF token for credentials left out. */
  connect(): Promise<ProvidedEnvironment>;
}

export interface ProvidedEnvironment {
  /** The API root, e.g. `http://127.0.0.1:40123/v2`. */
  baseUrl: string;
  contextIdentifier: ContextIdentifier;
  ksefToken: string;
  /** What the caller should know about this environment, logged as a warning (e.g. it validates less than KSeF). */
  warning?: string;
}

/** Where a client sends: an official environment, `custom` (with `baseUrl`), or a provided one (the embedded sandbox). */
export type KsefEnvironment = 'test' | 'demo' | 'production' | 'custom' | EnvironmentProvider;
