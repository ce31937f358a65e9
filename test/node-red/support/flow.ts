/** What the Node-RED node tests share: the sandbox's config node, waiting for messages and reading spies. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import helper = require('node-red-node-test-helper');
import type { NodeAPI } from '../../../nodes/node-red/runtimeTypes';

export type Msg = Record<string, any>;

export function nextMessage(id: string): Promise<Msg> {
  return new Promise((resolve) => helper.getNode(id).on('input', resolve));
}

export function messagesOf(id: string): Msg[] {
  const received: Msg[] = [];
  helper.getNode(id).on('input', (msg) => received.push(msg));
  return received;
}

/** The statuses node `id` showed, as [fill, text] (the helper leaves i18n keys untranslated). */
export function statusesOf(id: string): Array<[string | undefined, string | undefined]> {
  return helper
    .getNode(id)
    .status.getCalls()
    .filter((call) => call.thisValue.id === id)
    .map((call) => {
      const status = call.args[0] as { fill?: string; text?: string };
      return [status.fill, status.text];
    });
}

/** Everything the nodes logged (node.log/warn/error go through the runtime log) and every status they showed. */
export function everythingLogged(anyNodeId: string): string {
  const node = helper.getNode(anyNodeId);
  return JSON.stringify([
    helper
      .log()
      .getCalls()
      .map((call) => call.args),
    node.status.getCalls().map((call) => call.args),
  ]);
}

/**
 * Hands `msg` to node `id` and resolves once it has finished with it: its status is no longer the blue "working" one
 * (every KSeF node ends a message with a green, yellow or red status).
 */
export async function runToCompletion(id: string, msg: Msg = { payload: Date.now() }, timeoutMs = 60_000): Promise<void> {
  const node = helper.getNode(id) as any;
  const statusCount = node.status.getCalls().length;
  const finished = new Promise<void>((resolve, reject) => {
    const deadline = Date.now() + timeoutMs;
    const timer = setInterval(() => {
      const last = node.status.getCalls().slice(statusCount).at(-1)?.args[0];
      if (last && last.fill !== 'blue') {
        clearInterval(timer);
        resolve();
      } else if (Date.now() > deadline) {
        clearInterval(timer);
        reject(new Error(`Node ${id} did not finish its message within ${timeoutMs} ms`));
      }
    }, 5);
  });
  node.receive(msg);
  await finished;
  await new Promise((resolve) => setImmediate(resolve));
}

/** The ksef-config node `cfg` of a test flow, on `sandbox` (its address and demo context; the KSeF token goes in its credentials). */
export function sandboxConfigNode(sandbox: { baseUrl: string; contextIdentifier: { value: string } }): Msg {
  return {
    id: 'cfg',
    type: 'ksef-config',
    environment: 'custom',
    baseUrl: sandbox.baseUrl,
    contextType: 'Nip',
    contextValue: sandbox.contextIdentifier.value,
  };
}

/**
 * A flow: `configNode` (the ksef-config node `cfg`) -> ksef-send `send` -> helper `out`, and a Catch node scoped to
 * ksef-send -> helper `caught`; `send` overrides the ksef-send node's settings.
 */
export function ksefSendFlow(configNode: Msg, send: Record<string, unknown> = {}): Msg[] {
  return [
    { id: 'f1', type: 'tab', label: 'test' },
    configNode,
    {
      id: 'send',
      type: 'ksef-send',
      z: 'f1',
      ksef: 'cfg',
      schema: 'FA(3)',
      waitSeconds: 60,
      fetchUpo: true,
      offlineMode: false,
      wires: [['out']],
      ...send,
    },
    { id: 'out', type: 'helper', z: 'f1' },
    { id: 'errors', type: 'catch', z: 'f1', scope: ['send'], wires: [['caught']] },
    { id: 'caught', type: 'helper', z: 'f1' },
  ];
}

const LOCALES_DIR = path.resolve(__dirname, '..', '..', '..', 'nodes', 'node-red', 'locales', 'en-US');

/** The en-US catalogues of `catalogues` (node names), with Node-RED's `__name__` substitution. */
export function englishCatalogue(catalogues: string[]): NodeAPI['_'] {
  const messages = Object.assign(
    {},
    ...catalogues.map((node) => JSON.parse(fs.readFileSync(path.join(LOCALES_DIR, `${node}.json`), 'utf8'))),
  );
  return (key, substitutions = {}) => {
    const text = key.split('.').reduce<any>((value, part) => value?.[part], messages);
    if (typeof text !== 'string') return key;
    return text.replace(/__(\w+)__/g, (whole, name: string) => (name in substitutions ? String(substitutions[name]) : whole));
  };
}

/**
 * The nodes as Node-RED loads them, speaking English (the test helper leaves i18n keys untranslated): statuses and
 * errors read as a user sees them.
 */
export function inEnglish(registers: Array<(RED: NodeAPI) => void>, catalogues: string[]): Array<(RED: NodeAPI) => void> {
  return registers.map((register) => (RED: NodeAPI) => {
    RED._ = englishCatalogue(catalogues);
    register(RED);
  });
}
