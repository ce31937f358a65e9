import type { IDataObject, IExecuteFunctions, IPollFunctions } from 'n8n-workflow';
import { copyJsonValue, type JsonValue, type StateStore } from '../../../../shared';

/**
 * The state port over n8n's workflow static data of this node (`getWorkflowStaticData('node')`). Each key is a
 * top-level property: n8n notices a change by setting or deleting those (its ObservableObject proxy), not by
 * changes inside an object it already holds, so values are replaced whole, as copies.
 *
 * n8n saves static data with the workflow only when an execution of the active workflow ends successfully; a
 * manual test run or a failed execution keeps nothing. State written before a failure is therefore lost, and
 * whatever depends on it (a batch session to resume) must be able to start again without it. Static data is stored
 * in clear in n8n's database: callers seal key material before they store it.
 */
export class WorkflowStaticDataStore implements StateStore {
  constructor(private readonly data: IDataObject) {}

  async get<T extends JsonValue = JsonValue>(key: string): Promise<T | undefined> {
    const value = this.data[key];
    return value === undefined ? undefined : copyJsonValue(key, value as T);
  }

  async set(key: string, value: JsonValue): Promise<void> {
    this.data[key] = copyJsonValue(key, value) as IDataObject[string];
  }

  async delete(key: string): Promise<void> {
    delete this.data[key];
  }
}

/** The state store of the node being executed or polled. */
export function nodeStateStore(this: IExecuteFunctions | IPollFunctions): StateStore {
  return new WorkflowStaticDataStore(this.getWorkflowStaticData('node'));
}
