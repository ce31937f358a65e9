/**
 * XSD validation against the official KSeF schemas, read at run time from the spec folder
 * (`findSpecFolder()`), with libxml2 compiled to WebAssembly (`xmllint-wasm`, no native build, no network).
 *
 *   const validator = createXsdValidator(specDir);
 *   const errors = await validator.validateInvoice(xml, 'FA(3)');   // [] = valid
 *   const upoErrors = await validator.validateUpo(upoXml);
 *
 * The FA-family XSDs import their base types from absolute `http://crd.gov.pl/...` URLs; those imports are
 * pointed, in memory only, at the local copies in `faktury/schemy/FA/bazowe/`. Schema texts are read once per
 * spec folder and schema. Each validation runs xmllint in a short-lived worker thread (~0.1 s for FA(3),
 * ~0.2 s for PEF with its 2.9 MB of UBL schemas);
 * at most `MAX_CONCURRENT_VALIDATIONS` run at a time so a burst of invoices cannot exhaust memory.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { validateXML, memoryPages, type XMLFileInfo } from 'xmllint-wasm';
import { INVOICE_SCHEMAS, type InvoiceSchema } from '../model/formCodes';

export const UPO_XSD_PATH = 'faktury/upo/schemy/upo-v4-3.xsd';

/** Official schemas referenced by absolute URL, and where the spec folder keeps them. */
const REMOTE_SCHEMA_LOCATIONS: Record<string, string> = {
  'http://crd.gov.pl/xml/schematy/dziedzinowe/mf/2022/01/05/eD/DefinicjeTypy/': 'faktury/schemy/FA/bazowe/',
};

const MAX_CONCURRENT_VALIDATIONS = 2;
/** Room for a 3 MB invoice with attachment plus the 2.9 MB of PEF schemas. */
const MAX_MEMORY_PAGES = 256 * memoryPages.MiB;

const DOCUMENT_FILE_NAME = 'document.xml';

export interface XsdValidator {
  readonly specDir: string;
  /** Schema errors of an invoice (libxml2 messages as `Line N: ...`, namespaces stripped); empty when valid. */
  validateInvoice(xml: Buffer | string, schema: InvoiceSchema): Promise<string[]>;
  /** Schema errors of a UPO against upo-v4-3.xsd; empty when valid. */
  validateUpo(xml: Buffer | string): Promise<string[]>;
}

/** A schema with everything it imports, as files of xmllint's in-memory file system (paths relative to `ksef-docs`). */
interface SchemaFiles {
  main: XMLFileInfo;
  imported: XMLFileInfo[];
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
  const files = await loadSchema(docsDir, xsdPath);
  const contents = typeof xml === 'string' ? xml : new Uint8Array(xml.buffer, xml.byteOffset, xml.byteLength);
  await acquireSlot();
  try {
    const result = await validateXML({
      xml: [{ fileName: DOCUMENT_FILE_NAME, contents }],
      schema: [files.main],
      preload: files.imported,
      maxMemoryPages: MAX_MEMORY_PAGES,
    });
    return result.valid ? [] : outputLines(result.rawOutput);
  } catch (error) {
    // xmllint exits with code 1 when the document cannot even be parsed: that is the document's fault.
    const failure = error as Error & { code?: number };
    if (failure.code === 1) return outputLines(failure.message);
    throw new Error(`XSD validation against ${xsdPath} failed to run: ${failure.message}`, { cause: error });
  } finally {
    releaseSlot();
  }
}

/** libxml2 parser errors: keep the located lines, not the echoed source text and caret lines under them. */
function outputLines(output: string): string[] {
  const lines = output.split('\n');
  const located = lines.filter((line) => line.startsWith(`${DOCUMENT_FILE_NAME}:`));
  const errors = (located.length > 0 ? located : lines).map(readableError).filter((e): e is string => !!e);
  // Never let a failed validation look like a valid document.
  return errors.length > 0 ? errors : ['The document failed XSD validation (xmllint gave no details).'];
}

/** `document.xml:47: Schemas validity error : Element '{ns}P_X': ...` → `Line 47: Element 'P_X': ...`. */
function readableError(raw: string): string | undefined {
  const line = raw.trim();
  if (!line || line === '^' || line.endsWith(' fails to validate') || line.endsWith(' validates')) return undefined;
  const located = new RegExp(`^${DOCUMENT_FILE_NAME.replace('.', '\\.')}:(\\d+):\\s*(.*)$`).exec(line);
  const message = (located ? located[2] : line)
    .replace(/^(?:element \S+: )?Schemas validity error : /, '')
    .replace(/\{[^}]*\}/g, '');
  return located ? `Line ${located[1]}: ${message}` : message;
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
    text = text.replace(/(<(?:xsd?:)?(?:import|include)\b[^>]*?\bschemaLocation\s*=\s*)(["'])([^"']+)\2/g, (_whole, head: string, quote: string, location: string) => {
      const target = localSchemaPath(directory, location);
      pending.push(target);
      return `${head}${quote}${path.posix.relative(directory, target)}${quote}`;
    });
    loaded.set(relative, text);
  }
  const [main, ...imported] = [...loaded].map(([fileName, contents]) => ({ fileName, contents }));
  return { main, imported };
}

function localSchemaPath(directory: string, location: string): string {
  if (!/^[a-z]+:/i.test(location)) return normalize(path.posix.join(directory, location));
  const base = Object.keys(REMOTE_SCHEMA_LOCATIONS).find((prefix) => location.startsWith(prefix));
  if (!base) throw new Error(`Schema import ${location} has no local copy in the KSeF spec folder; add its location to REMOTE_SCHEMA_LOCATIONS.`);
  return normalize(REMOTE_SCHEMA_LOCATIONS[base] + location.slice(base.length));
}

function normalize(relative: string): string {
  return path.posix.normalize(relative.replace(/\\/g, '/'));
}

let running = 0;
const waiting: (() => void)[] = [];

function acquireSlot(): Promise<void> {
  if (running < MAX_CONCURRENT_VALIDATIONS) {
    running++;
    return Promise.resolve();
  }
  return new Promise((resolve) => waiting.push(resolve));
}

function releaseSlot(): void {
  const next = waiting.shift();
  if (next) next();
  else running--;
}
