/**
 * The example flows as Import > Examples offers them. The editor imports a config node whose id already exists as that
 * same node (test/hosts/node-red-editor.test.ts does it in the real editor), so the examples share their sandbox
 * config node by having the same id and content in every file.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

const EXAMPLES_DIR = path.resolve(__dirname, '..', '..', 'examples');

type FlowNode = Record<string, any>;

function examples(): Array<{ file: string; nodes: FlowNode[] }> {
  return fs.readdirSync(EXAMPLES_DIR).flatMap((folder) =>
    fs.readdirSync(path.join(EXAMPLES_DIR, folder)).map((file) => ({
      file: `${folder}/${file}`,
      nodes: JSON.parse(fs.readFileSync(path.join(EXAMPLES_DIR, folder, file), 'utf8')) as FlowNode[],
    })),
  );
}

it('shares one sandbox config node, same id and content, among the examples that use the sandbox token', () => {
  const sandboxConfigs = examples().flatMap(({ file, nodes }) =>
    nodes
      .filter((node) => node.type === 'ksef-config' && node.environment === 'sandbox' && node.authMethod === 'ksefToken')
      .map((node) => ({ file, node })),
  );

  expect(sandboxConfigs.map(({ file }) => file.split('/')[0]).sort()).toEqual([
    'ksef-auth',
    'ksef-invoice',
    'ksef-send',
    'ksef-sync',
    'ksef-token',
  ]);
  for (const { file, node } of sandboxConfigs) {
    expect({ file, node }).toEqual({ file, node: sandboxConfigs[0].node });
  }
});

it('gives each config node id one content across all examples', () => {
  const byId = new Map<string, string>();
  for (const { file, nodes } of examples()) {
    for (const node of nodes.filter((n) => n.type === 'ksef-config')) {
      const content = JSON.stringify(node);
      expect({ file, content }).toEqual({ file, content: byId.get(node.id) ?? content });
      byId.set(node.id, content);
    }
  }
});

it('sends the demo invoices only on a button press, never on deploy', () => {
  const send = examples().find(({ file }) => file.startsWith('ksef-send/'))!;
  const injects = send.nodes.filter((node) => node.type === 'inject');

  expect(injects.length).toBeGreaterThan(0);
  expect(injects.map((node) => [node.once, node.repeat, node.crontab])).toEqual(injects.map(() => [false, '', '']));
});

it('runs the sync example every 15 minutes and once on deploy, writing a CSV row and an XML file per invoice', () => {
  const { nodes } = examples().find(({ file }) => file.startsWith('ksef-sync/'))!;
  const byId = new Map(nodes.map((node) => [node.id, node]));
  const downstream = (id: string): FlowNode[] => (byId.get(id)!.wires as string[][]).flat().map((next) => byId.get(next)!);
  const [inject] = nodes.filter((node) => node.type === 'inject');
  const [sync] = nodes.filter((node) => node.type === 'ksef-sync');

  expect([inject.repeat, inject.once]).toEqual(['900', true]);
  expect(downstream(inject.id)).toEqual([sync]);
  expect(sync).toMatchObject({ ksef: 'a1f0c0de00000009', subjectType: 'Subject2', output: 'item', includeXml: true });
  const branches = downstream(sync.id).map((node) => [
    node.type,
    ...downstream(node.id).flatMap((next) => [next.type, ...downstream(next.id).map((last) => last.type)]),
  ]);
  expect(branches).toEqual(
    expect.arrayContaining([
      ['change', 'csv', 'file'],
      ['change', 'file'],
    ]),
  );
});
