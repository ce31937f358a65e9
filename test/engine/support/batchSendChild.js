/**
 * A separate Node process that sends invoices in a batch session through the engine's TypeScript sources, so a
 * test can kill it for real (SIGKILL) half way. Reads its job from the KSEF_BATCH_CHILD environment variable
 * (JSON: baseUrl, contextIdentifier, ksefToken, stateFolder, invoices, options, stopAfterParts); prints one JSON line
 * per progress report, and once `stopAfterParts` parts are uploaded it blocks, waiting to be killed.
 */
const { readFileSync } = require('node:fs');
const path = require('node:path');
const ts = require('typescript');

// The engine's sources as CommonJS, compiled file by file on load (no type check: the test suite has done that).
require.extensions['.ts'] = (module, filename) => {
  const { outputText } = ts.transpileModule(readFileSync(filename, 'utf8'), {
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
    fileName: filename,
  });
  module._compile(outputText, filename);
};

const { createKsefClient, FileStateStore, MemoryTokenStore } = require(path.join(__dirname, '../../../shared/index.ts'));

async function main() {
  const job = JSON.parse(process.env.KSEF_BATCH_CHILD);
  const client = createKsefClient({
    environment: 'custom',
    baseUrl: job.baseUrl,
    credentials: { method: 'ksefToken', contextIdentifier: job.contextIdentifier, ksefToken: job.ksefToken },
    tokenStore: new MemoryTokenStore(),
    stateStore: new FileStateStore(job.stateFolder),
  });
  await client.sessions.batch.send(job.invoices, {
    ...job.options,
    onProgress: (progress) => {
      process.stdout.write(`${JSON.stringify(progress)}\n`);
      if (progress.phase === 'uploading' && progress.partsUploaded === job.stopAfterParts) {
        // Blocks this process's only thread: nothing more happens until the test kills it.
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
      }
    },
  });
  process.stdout.write('{"finished":true}\n');
  await client.close();
}

main().catch((error) => {
  process.stderr.write(`${error.stack}\n`);
  process.exit(1);
});
