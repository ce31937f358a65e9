/** Token > Generate and Token > Get Many (Return All / Limit) in n8n's own execution engine, against the embedded sandbox. */
import { describeWithN8n, runKsefNode } from './harness';

describeWithN8n('Token > Get Many in n8n', () => {
  beforeAll(async () => {
    const { outputs, error } = await runKsefNode({
      parameters: { resource: 'token', operation: 'generate', description: '={{ $json.description }}', permissions: ['InvoiceRead'] },
      items: [{ json: { description: 'harness token one' } }, { json: { description: 'harness token two' } }],
    });
    expect(error).toBeUndefined();
    expect(outputs[0].map((item) => item.pairedItem)).toEqual([{ item: 0 }, { item: 1 }]);
  });

  test('Return All lists every token of the context, the generated ones included, paired with the input item', async () => {
    const { outputs } = await runKsefNode({ parameters: { resource: 'token', operation: 'getAll', returnAll: true } });

    const descriptions = outputs[0].map((item) => item.json.description);
    expect(descriptions).toEqual(expect.arrayContaining(['harness token one', 'harness token two']));
    expect(outputs[0].length).toBeGreaterThanOrEqual(3);
    expect(outputs[0].every((item) => JSON.stringify(item.pairedItem) === JSON.stringify({ item: 0 }))).toBe(true);
  });

  test('Limit stops at that many tokens', async () => {
    const { outputs } = await runKsefNode({ parameters: { resource: 'token', operation: 'getAll', returnAll: false, limit: 2 } });

    expect(outputs[0]).toHaveLength(2);
  });
});
