import { embeddedSandbox, ensureEmbeddedSandbox } from '../../sandbox';
import { buildDemoInvoice, DEMO_SELLER_NIP } from '../../sandbox/samples/demoInvoice';
import { createKsefClient } from '../../shared';
import { KsefHttp } from '../support/ksefHttp';

describe('embedded sandbox', () => {
  it('is one process-wide sandbox, started on first use, and a fresh one after it was closed', async () => {
    const [first, second] = await Promise.all([ensureEmbeddedSandbox(), ensureEmbeddedSandbox()]);
    expect(second).toBe(first);
    expect(first.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v2$/);
    const http = new KsefHttp(first.baseUrl);
    const { accessToken } = await http.authenticate(first.ksefToken, first.contextIdentifier);
    expect((await http.request('GET', '/limits/context', { bearer: accessToken })).json.onlineSession.maxInvoices).toBe(10_000);

    await first.close();
    const third = await ensureEmbeddedSandbox();
    expect(third).not.toBe(first);
    expect(third.ksefToken).not.toBe(first.ksefToken);
    await third.close();
  });
});

describe('the engine given embeddedSandbox()', () => {
  it('talks to the embedded sandbox and its demo company', async () => {
    const client = createKsefClient({ environment: embeddedSandbox(), credentials: { method: 'ksefToken' } });
    try {
      const sent = await client.sessions.online.send([buildDemoInvoice()], { fetchUpo: false });
      expect(sent.invoices[0]).toMatchObject({ accepted: true });
      expect(sent.invoices[0].ksefNumber!.startsWith(`${DEMO_SELLER_NIP}-`)).toBe(true);
      expect((await ensureEmbeddedSandbox()).contextIdentifier.value).toBe(DEMO_SELLER_NIP);
    } finally {
      await client.close();
      await (await ensureEmbeddedSandbox()).close();
    }
  });
});
