import { KsefInputError, MemoryTokenStore, type AuthSessionInfo } from '../../shared';
import { collect } from './support/collect';
import { clientOf, startRecordedSandbox, type RecordedSandbox } from './support/sandbox';
import { certificateClient, exchangeCount, pkcs12Credentials, sealOf } from './support/certificates';

describe('authentication sessions', () => {
  let sandbox: RecordedSandbox;

  beforeEach(async () => {
    sandbox = await startRecordedSandbox();
  });
  afterEach(() => sandbox.close());

  it('lists the sessions of the context and marks the current one', async () => {
    const byToken = clientOf(sandbox);
    const tokenAuth = await byToken.authenticate();
    await byToken.close();
    const owner = certificateClient(sandbox, pkcs12Credentials(sandbox, sealOf(sandbox.contextIdentifier.value)));
    const certificateAuth = await owner.authenticate();

    const sessions = await collect(owner.authSessions.list({ pageSize: 10 }));
    await owner.close();

    const find = (referenceNumber: string): AuthSessionInfo | undefined => sessions.find((s) => s.referenceNumber === referenceNumber);
    expect(find(certificateAuth.referenceNumber)).toMatchObject({
      isCurrent: true,
      authenticationMethodInfo: { category: 'XadesSignature' },
      status: { code: 200 },
    });
    expect(find(tokenAuth.referenceNumber)).toMatchObject({ isCurrent: false, authenticationMethodInfo: { category: 'Token' } });
  });

  it('revokes the current session and authenticates anew on the next call', async () => {
    const store = new MemoryTokenStore();
    const owner = certificateClient(sandbox, pkcs12Credentials(sandbox, sealOf(sandbox.contextIdentifier.value, 'ec')), {
      tokenStore: store,
    });
    const first = await owner.authenticate();
    await owner.authSessions.revokeCurrent();
    expect(sandbox.count('DELETE /auth/sessions/current')).toBe(1);

    const second = await owner.authenticate();
    const sessions = await collect(owner.authSessions.list());
    await owner.close();

    expect(second.referenceNumber).not.toBe(first.referenceNumber);
    expect(sandbox.count('POST /auth/xades-signature')).toBe(2);
    expect(sessions.find((s) => s.referenceNumber === first.referenceNumber)?.status.code).not.toBe(200);
    expect(sessions.find((s) => s.referenceNumber === second.referenceNumber)).toMatchObject({ isCurrent: true, status: { code: 200 } });
  });

  it('revokes another session by reference number', async () => {
    const other = clientOf(sandbox);
    const otherAuth = await other.authenticate();
    await other.close();
    const owner = certificateClient(sandbox, pkcs12Credentials(sandbox, sealOf(sandbox.contextIdentifier.value)));
    await owner.authSessions.revoke(otherAuth.referenceNumber);

    const sessions = await collect(owner.authSessions.list());
    await owner.close();
    expect(sandbox.count('DELETE /auth/sessions/{referenceNumber}')).toBe(1);
    expect(sessions.find((s) => s.referenceNumber === otherAuth.referenceNumber)?.status.code).not.toBe(200);
  });

  it('refuses a malformed reference number before sending anything', async () => {
    const owner = clientOf(sandbox);
    const failure = await owner.authSessions.revoke('20251010-AU-123').catch((error: unknown) => error);
    const pageFailure = await collect(owner.authSessions.list({ pageSize: 5 })).catch((error: unknown) => error);
    await owner.close();
    expect(failure).toBeInstanceOf(KsefInputError);
    expect(failure).toMatchObject({
      field: 'referenceNumber',
      message: expect.stringMatching(/like 20251010-AU-19F5E39000-39B5B182BA-B8/),
    });
    expect(pageFailure).toMatchObject({ field: 'options.pageSize' });
    expect(exchangeCount(sandbox)).toBe(0);
  });
});
