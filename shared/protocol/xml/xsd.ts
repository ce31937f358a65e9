/**
 * XSD validation against the official KSeF schemas, read at run time from the spec folder
 * (`findSpecFolder()`), with libxml2 compiled to WebAssembly (`libxml2-wasm`, no native build, no network).
 *
 *   const validator = createXsdValidator(specDir);
 *   const errors = await validator.validateInvoice(xml, 'FA(3)');   // [] = valid
 *   const upoErrors = await validator.validateUpo(upoXml);
 *
 * The FA-family XSDs import their base types from absolute `http://crd.gov.pl/...` URLs; those imports are
 * pointed, in memory only, at the local copies in `faktury/schemy/FA/bazowe/`. Schema texts are read once per
 * spec folder and schema. Validation is CPU-bound and synchronous, so it runs in a pool of worker threads, one
 * per core (at most `MAX_WORKERS`): each worker compiles a schema once (~0.5 s for FA(3)) and then validates
 * a document against it in a few milliseconds, so a burst of invoices uses every core and never blocks the
 * event loop. libxml2-wasm is an ES module with top-level await, which `require` cannot load: only the
 * workers, plain Node.js scripts, import it. Workers idle for `IDLE_WORKER_MS` end, releasing their memory.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { INVOICE_SCHEMAS, type InvoiceSchema } from '../model/formCodes';
import { WorkerPool, workersPerCore } from '../workerPool';

export const UPO_XSD_PATH = 'faktury/upo/schemy/upo-v4-3.xsd';

/** Official schemas referenced by absolute URL, and where the spec folder keeps them. */
const REMOTE_SCHEMA_LOCATIONS: Record<string, string> = {
  'http://crd.gov.pl/xml/schematy/dziedzinowe/mf/2022/01/05/eD/DefinicjeTypy/': 'faktury/schemy/FA/bazowe/',
};

/** Each worker holds its compiled schemas (tens of MB for PEF): more than four buys little and costs memory. */
const MAX_WORKERS = 4;
/** Long enough to keep the compiled schemas through a burst of sessions, short enough not to hoard ~35 MB per worker. */
const IDLE_WORKER_MS = 10_000;

export interface XsdValidator {
  readonly specDir: string;
  /** Schema errors of an invoice (libxml2 messages as `Line N: ...`, namespaces stripped); empty when valid. */
  validateInvoice(xml: Buffer | string, schema: InvoiceSchema): Promise<string[]>;
  /** Schema errors of a UPO against upo-v4-3.xsd; empty when valid. */
  validateUpo(xml: Buffer | string): Promise<string[]>;
}

/** A schema file, its path relative to `ksef-docs` (and to the other files of its schema). */
interface SchemaFile {
  fileName: string;
  contents: string;
}

/** A schema with everything it imports; the first file is the main one. */
interface SchemaFiles {
  /** Identifies the schema across workers: its absolute path. */
  key: string;
  files: SchemaFile[];
}

const schemaCache = new Map<string, Promise<SchemaFiles>>();

/** `specDir` is the folder holding `ksef-docs/` (what `findSpecFolder()` returns). */
export function createXsdValidator(specDir: string): XsdValidator {
  const docsDir = path.join(path.resolve(specDir), 'ksef-docs');
  return {
    specDir,
    validateInvoice: (xml, schema) => validateAgainst(docsDir, INVOICE_SCHEMAS[schema].xsdPath, xml),
    validateUpo: (xml) => validateAgainst(docsDir, UPO_XSD_PATH, xml),
  };
}

/** True when the spec folder holds the XSD of `schema` (and so invoices of it can be schema-validated). */
export function hasInvoiceXsd(specDir: string, schema: InvoiceSchema): boolean {
  return fs.existsSync(path.join(specDir, 'ksef-docs', INVOICE_SCHEMAS[schema].xsdPath));
}

async function validateAgainst(docsDir: string, xsdPath: string, xml: Buffer | string): Promise<string[]> {
  const schema = await loadSchema(docsDir, xsdPath);
  const document = typeof xml === 'string' ? Buffer.from(xml, 'utf8') : xml;
  const outcome = await validateInWorker(schema, document);
  if ('failure' in outcome) throw new Error(`XSD validation against ${xsdPath} failed to run: ${outcome.failure}`);
  return outcome.errors.map(readableError);
}

/** `{line: 47, message: "Element '{ns}P_X': ..."}` → `Line 47: Element 'P_X': ...`. */
function readableError({ line, message }: WorkerError): string {
  const text = message.trim().replace(/\{[^}]*\}/g, '');
  return line > 0 ? `Line ${line}: ${text}` : text;
}

function loadSchema(docsDir: string, xsdPath: string): Promise<SchemaFiles> {
  const key = path.join(docsDir, xsdPath);
  let cached = schemaCache.get(key);
  if (!cached) {
    cached = readSchemaFiles(docsDir, xsdPath);
    cached.catch(() => schemaCache.delete(key));
    schemaCache.set(key, cached);
  }
  return cached;
}

/** Reads `xsdPath` and, transitively, every schema it imports or includes. */
async function readSchemaFiles(docsDir: string, xsdPath: string): Promise<SchemaFiles> {
  const loaded = new Map<string, string>();
  const pending = [normalize(xsdPath)];
  while (pending.length > 0) {
    const relative = pending.pop()!;
    if (loaded.has(relative)) continue;
    let text: string;
    try {
      text = await fs.promises.readFile(path.join(docsDir, relative), 'utf8');
    } catch (error) {
      throw new Error(`Cannot read schema ${relative} from the KSeF spec folder ${docsDir}: ${(error as Error).message}`, { cause: error });
    }
    const directory = path.posix.dirname(relative);
    text = text.replace(
      /(<(?:xsd?:)?(?:import|include)\b[^>]*?\bschemaLocation\s*=\s*)(["'])([^"']+)\2/g,
      (_whole, head: string, quote: string, location: string) => {
        const target = localSchemaPath(directory, location);
        pending.push(target);
        return `${head}${quote}${path.posix.relative(directory, target)}${quote}`;
      },
    );
    loaded.set(relative, text);
  }
  return { key: path.join(docsDir, xsdPath), files: [...loaded].map(([fileName, contents]) => ({ fileName, contents })) };
}

function localSchemaPath(directory: string, location: string): string {
  if (!/^[a-z]+:/i.test(location)) return normalize(path.posix.join(directory, location));
  const base = Object.keys(REMOTE_SCHEMA_LOCATIONS).find((prefix) => location.startsWith(prefix));
  if (!base)
    throw new Error(`Schema import ${location} has no local copy in the KSeF spec folder; add its location to REMOTE_SCHEMA_LOCATIONS.`);
  return normalize(REMOTE_SCHEMA_LOCATIONS[base] + location.slice(base.length));
}

function normalize(relative: string): string {
  return path.posix.normalize(relative.replace(/\\/g, '/'));
}

interface WorkerError {
  line: number;
  message: string;
}

type WorkerOutcome = { errors: WorkerError[] } | { failure: string };

/**
 * The worker's script (run by Node.js as it is, never transpiled). It registers the schema files it is sent as
 * in-memory files under a URL of their own, compiles each schema on first use and keeps it; a document that is
 * not well-formed is reported like an invalid one (that is the document's fault), anything else as a failure.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const loading = import(workerData.libxml2Url).then((libxml2) => {
  const files = new libxml2.XmlBufferInputProvider({});
  libxml2.xmlRegisterInputProvider(files);
  return { libxml2, files };
});
const validators = new Map();
parentPort.on('message', async ({ key, schemaFiles, document }) => {
  let outcome;
  try {
    const { libxml2, files } = await loading;
    let validator = validators.get(key);
    if (!validator) {
      if (!schemaFiles) throw new Error('schema ' + key + ' was not sent to this worker');
      const base = 'ksef:///' + validators.size + '/';
      for (const file of schemaFiles) files.addBuffer(base + file.fileName, Buffer.from(file.contents, 'utf8'));
      const main = schemaFiles[0];
      validator = libxml2.XsdValidator.fromDoc(libxml2.XmlDocument.fromString(main.contents, { url: base + main.fileName }));
      validators.set(key, validator);
    }
    outcome = { value: { errors: validate(libxml2, validator, document) } };
  } catch (error) {
    outcome = { failure: error && error.message ? error.message : String(error) };
  }
  parentPort.postMessage(outcome);
});
function validate(libxml2, validator, document) {
  let doc;
  try {
    doc = libxml2.XmlDocument.fromBuffer(document, { url: 'document.xml' });
    validator.validate(doc);
    return [];
  } catch (error) {
    if (!(error instanceof libxml2.XmlParseError || error instanceof libxml2.XmlValidateError)) throw error;
    const errors = (error.details || []).map((d) => ({ line: d.line || 0, message: d.message }));
    // Never let a failed validation look like a valid document.
    return errors.length > 0 ? errors : [{ line: 0, message: error.message || 'The document failed XSD validation.' }];
  } finally {
    if (doc) doc.dispose();
  }
}
`;

/** The validation workers, started at the first validation (libxml2-wasm's location is resolved then). */
let validationPool: WorkerPool<ValidationRequest, { errors: WorkerError[] }> | undefined;

/** A document to validate against a schema; the schema's files go only to a worker that does not have them yet. */
interface ValidationRequest {
  key: string;
  schemaFiles?: SchemaFile[];
  document: Buffer;
}

async function validateInWorker(schema: SchemaFiles, document: Buffer): Promise<WorkerOutcome> {
  validationPool ??= new WorkerPool({
    script: { source: WORKER_SOURCE, workerData: { libxml2Url: pathToFileURL(require.resolve('libxml2-wasm')).href } },
    size: workersPerCore(MAX_WORKERS),
    idleMs: IDLE_WORKER_MS,
    label: 'XSD validation worker',
  });
  return validationPool
    .run((hasSchema) => ({ key: schema.key, schemaFiles: hasSchema ? undefined : schema.files, document }), { key: schema.key })
    .catch((error: Error) => ({ failure: error.message }));
}
