/**
 * The engine client helper takes the `this` of a polling trigger's poll and of a load-options method as well as an
 * operation's: n8n-core's own PollContext and LoadOptionsContext, the credential resolved through them.
 */
import { getKsefClient } from '../../nodes/n8n/Ksef/transport/client';
import { describeWithN8n, loadOptionsContext, pollContext } from './harness';

describeWithN8n('getKsefClient outside execute', () => {
  test("a poll context's client authenticates with the node's credential", async () => {
    const client = await getKsefClient.call(pollContext());
    const session = await client.authenticate();
    expect(session.contextIdentifier).toEqual({ type: 'Nip', value: '1234563218' });
  });

  test('a load-options context gets the same cached client for the same credential', async () => {
    expect(await getKsefClient.call(loadOptionsContext())).toBe(await getKsefClient.call(pollContext()));
  });
});
