import { buildDemoInvoice } from '../../sandbox/samples/demoInvoice';
import { readUpoDocuments } from '../../shared/protocol/xml/upo';
import { KsefInputError, KsefNotFoundError, type KsefClient } from '../../shared';
import { clientOf, startRecordedSandbox, type RecordedSandbox } from './support/sandbox';

describe('reading a sent invoice back (sessions.invoiceStatus)', () => {
  let sandbox: RecordedSandbox;
  let client: KsefClient;

  beforeAll(async () => {
    sandbox = await startRecordedSandbox();
    client = clientOf(sandbox);
  });
  afterAll(async () => {
    await client.close();
    await sandbox.close();
  });

  it('reads an accepted invoice by its reference number and by its KSeF number, with its UPO', async () => {
    const sent = await client.sessions.online.send([buildDemoInvoice({ invoiceNumber: 'FV/2026/READ/1' })], { fetchUpo: false });
    const [invoice] = sent.invoices;
    const sessionReferenceNumber = sent.sessionReferenceNumber;

    const byReference = await client.sessions.invoiceStatus({ sessionReferenceNumber, invoiceReferenceNumber: invoice.referenceNumber });
    expect(byReference).toMatchObject({
      sessionReferenceNumber,
      accepted: true,
      pending: false,
      ksefNumber: invoice.ksefNumber,
      invoiceNumber: 'FV/2026/READ/1',
      referenceNumber: invoice.referenceNumber,
      invoiceHash: invoice.invoiceHash,
      status: { code: 200 },
    });
    expect(byReference).not.toHaveProperty('upoDownloadUrl');
    expect(readUpoDocuments(byReference.upo!)).toMatchObject([{ ksefNumber: invoice.ksefNumber, invoiceHash: invoice.invoiceHash }]);

    const byKsefNumber = await client.sessions.invoiceStatus({ sessionReferenceNumber, ksefNumber: invoice.ksefNumber, fetchUpo: false });
    expect(byKsefNumber).toMatchObject({ accepted: true, ksefNumber: invoice.ksefNumber, referenceNumber: invoice.referenceNumber });
    expect(byKsefNumber.upo).toBeUndefined();
  });

  it('names the missing or malformed identifier before asking KSeF', async () => {
    const sessionReferenceNumber = (await client.sessions.online.send([buildDemoInvoice({ invoiceNumber: 'FV/2026/READ/2' })]))
      .sessionReferenceNumber;
    await expect(client.sessions.invoiceStatus({ sessionReferenceNumber })).rejects.toMatchObject({
      constructor: KsefInputError,
      field: 'invoiceReferenceNumber',
    });
    await expect(client.sessions.invoiceStatus({ sessionReferenceNumber, ksefNumber: 'not-a-number' })).rejects.toMatchObject({
      constructor: KsefInputError,
      field: 'ksefNumber',
    });
  });

  it('reports a KSeF number the session does not have as not found', async () => {
    const [first, second] = await Promise.all([
      client.sessions.online.send([buildDemoInvoice({ invoiceNumber: 'FV/2026/READ/3' })]),
      client.sessions.online.send([buildDemoInvoice({ invoiceNumber: 'FV/2026/READ/4' })]),
    ]);
    await expect(
      client.sessions.invoiceStatus({ sessionReferenceNumber: first.sessionReferenceNumber, ksefNumber: second.invoices[0].ksefNumber }),
    ).rejects.toBeInstanceOf(KsefNotFoundError);
  });
});
