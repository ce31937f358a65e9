/**
 * The README's quick start, as a newcomer runs it after `npm install`: `npm start` (here its script, after the build
 * `npm run test:hosts` did) starts Node-RED with the example flow and presses its inject button (the flow sends only
 * on a press), so two demo invoices go to the embedded sandbox and their KSeF numbers are printed as the README shows;
 * then a sync run downloads the five invoices other sellers issued to the demo company and prints each of them.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort } from './support/ports';
import { isValidKsefNumber } from '../../shared/protocol/model/ksefNumber';

const ROOT = path.resolve(__dirname, '..', '..');
const KSEF_NUMBER_LINE = /^ {2}>>> KSeF number: (\S+) {2}invoice (\S+), UPO received$/;
const RECEIVED_LINE = /^ {2}<<< Received (\S+) {2}from (.+) \(NIP (\d{10})\) {2}(-?\d+\.\d{2}) ([A-Z]{3})$/;
const RECEIVED_INVOICES = 5;

it('prints the KSeF numbers of the two demo invoices, then the five received invoices, and serves the editor on the chosen port', async () => {
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ksef-quickstart-'));
  const port = await freePort();
  const child = spawn(process.execPath, [path.join(ROOT, 'scripts', 'quickstart.js')], {
    env: { ...process.env, PORT: String(port), QUICKSTART_USER_DIR: userDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  try {
    const { numbers, received } = await new Promise<{ numbers: string[]; received: RegExpExecArray[] }>((resolve, reject) => {
      const found: string[] = [];
      const receivedFound: RegExpExecArray[] = [];
      const timer = setTimeout(
        () =>
          reject(new Error(`No two KSeF numbers and ${RECEIVED_INVOICES} received invoices within 90 s. Output:\n${output.join('\n')}`)),
        90_000,
      );
      let rest = '';
      child.stdout.setEncoding('utf8');
      child.stdout.on('data', (chunk: string) => {
        // A line may arrive in two chunks.
        const lines = (rest + chunk).split('\n');
        rest = lines.pop()!;
        for (const line of lines) {
          output.push(line);
          const match = KSEF_NUMBER_LINE.exec(line);
          if (match) found.push(match[1]);
          const receivedMatch = RECEIVED_LINE.exec(line);
          if (receivedMatch) receivedFound.push(receivedMatch);
          if (found.length === 2 && receivedFound.length === RECEIVED_INVOICES) {
            clearTimeout(timer);
            resolve({ numbers: found, received: receivedFound });
          }
        }
      });
      child.stderr.on('data', (chunk: Buffer) => output.push(chunk.toString('utf8')));
      child.on('exit', (code) => reject(new Error(`npm start exited (${code}) early. Output:\n${output.join('\n')}`)));
    });

    expect(numbers.every(isValidKsefNumber)).toBe(true);
    expect(new Set(numbers).size).toBe(2);
    // Received invoices: distinct, valid KSeF numbers of other sellers (a KSeF number starts with its seller's NIP).
    const receivedNumbers = received.map((match) => match[1]);
    expect(receivedNumbers.every(isValidKsefNumber)).toBe(true);
    expect(new Set(receivedNumbers).size).toBe(RECEIVED_INVOICES);
    for (const [, ksefNumber, sellerName, sellerNip] of received) {
      expect(ksefNumber.startsWith(`${sellerNip}-`)).toBe(true);
      expect(sellerNip).not.toBe('1234563218');
      expect(sellerName.trim()).not.toBe('');
    }
    // Every line the README shows, except the KSeF numbers and received invoices (checked above), with the port of this run.
    for (const line of readmeOutput().filter((text) => !text.includes('>>> KSeF number') && !text.includes('<<< Received'))) {
      expect(output).toContain(line.replace(':1880', `:${port}`));
    }
    const editor = await fetch(`http://127.0.0.1:${port}/`);
    expect(editor.status).toBe(200);
  } finally {
    await new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGINT');
    });
    fs.rmSync(userDir, { recursive: true, force: true });
  }
});

/** The output block of the README's quick start (the first code block after the `npm start` paragraph). */
function readmeOutput(): string[] {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const block = /`npm start` builds the package[\s\S]*?\n```\n([\s\S]*?)\n```/.exec(readme);
  if (!block) throw new Error('README.md has no quick-start output block after "`npm start` builds the package"');
  return block[1].split('\n');
}
