/** What the tests of ksef-auth, ksef-token and ksef-certificate share: waiting for messages and reading spies. */
import helper = require('node-red-node-test-helper');

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
