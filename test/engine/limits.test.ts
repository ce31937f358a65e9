/** The limits chapter of the engine over real HTTP against the sandbox; the sandbox's answers are contract-checked on close. */
import { clientOf, startRecordedSandbox, type RecordedSandbox } from './support/sandbox';

describe('client.limits', () => {
  let sandbox: RecordedSandbox;

  beforeEach(async () => {
    sandbox = await startRecordedSandbox();
  });
  afterEach(async () => {
    await sandbox.close();
  });

  it("subject() reads the authenticated subject's certificate limits (GET /limits/subject)", async () => {
    const client = clientOf(sandbox);
    try {
      await expect(client.limits.subject()).resolves.toEqual({
        enrollment: { maxEnrollments: 300 },
        certificate: { maxCertificates: 100 },
      });
      sandbox.state.certificateLimits.Nip = { maxEnrollments: 7, maxCertificates: 3 };
      await expect(client.limits.subject()).resolves.toEqual({ enrollment: { maxEnrollments: 7 }, certificate: { maxCertificates: 3 } });
    } finally {
      await client.close();
    }
    expect(sandbox.count('GET /limits/subject')).toBe(2);
  });
});
