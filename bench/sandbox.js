#!/usr/bin/env node
/**
 * `npm run bench:sandbox`: how many invoices per second one sandbox process verifies with the official XSDs.
 * Drives a fresh sandbox over HTTP (rate limits lifted): per run, opens an online session, sends N distinct
 * generated FA(3) demo invoices and reads the session's invoice list until every invoice has its final status.
 * The time from the first send to the last final status gives `invoicesPerSecond`. In the same run the same
 * invoices are validated one after another with the XSD validator alone, which gives `xsdMsPerInvoice` and the
 * single-core limit of bare validation (`singleCoreLimitInvoicesPerSecond`), the figure to compare against.
 * Prints one JSON line per run. Options: BENCH_INVOICES (default 300), BENCH_ROUNDS (default 3).
 */
const crypto = require('node:crypto');
const path = require('node:path');
const { dist, unlimitedRateLimits } = require('./support');
const { startSandbox } = require(path.join(dist, 'sandbox'));
const { buildDemoInvoice } = require(path.join(dist, 'sandbox', 'samples', 'demoInvoice'));
const { findSpecFolder } = require(path.join(dist, 'shared', 'protocol', 'spec', 'specFolder'));
const { createXsdValidator } = require(path.join(dist, 'shared', 'protocol', 'xml', 'xsd'));

const invoiceCount = Number(process.env.BENCH_INVOICES ?? 300);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
/** Invoices in flight at once, as a client sending from several threads would. */
const SEND_CONCURRENCY = 16;
const POLL_INTERVAL_MS = 10;
const FA3 = { systemCode: 'FA (3)', schemaVersion: '1-0E', value: 'FA' };

let sequence = 0;
function invoices(count) {
  const run = `${process.pid}-${Date.now()}-${sequence++}`;
  return Array.from({ length: count }, (_, i) =>
    Buffer.from(buildDemoInvoice({ invoiceNumber: `BENCH/${run}/${i + 1}`, lines: 1 + (i % 5) }), 'utf8'),
  );
}

const sha256 = (data) => crypto.createHash('sha256').update(data).digest('base64');

function rsaEncrypt(certificateBase64, data) {
  const { publicKey } = new crypto.X509Certificate(Buffer.from(certificateBase64, 'base64'));
  return crypto
    .publicEncrypt({ key: publicKey, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, data)
    .toString('base64');
}

class Api {
  constructor(baseUrl) {
    this.baseUrl = baseUrl;
  }

  async request(method, url, { body, bearer } = {}) {
    const headers = { accept: 'application/json' };
    if (bearer) headers.authorization = `Bearer ${bearer}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(`${this.baseUrl}${url}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await response.text();
    if (response.status >= 300) throw new Error(`${method} ${url} answered ${response.status}: ${text}`);
    return text ? JSON.parse(text) : undefined;
  }

  async authenticate(ksefToken, contextIdentifier) {
    const certificates = await this.request('GET', '/security/public-key-certificates');
    this.certificate = (usage) => certificates.find((c) => c.usage.includes(usage));
    const { challenge, timestampMs } = await this.request('POST', '/auth/challenge');
    const tokenKey = this.certificate('KsefTokenEncryption');
    const started = await this.request('POST', '/auth/ksef-token', {
      body: {
        challenge,
        contextIdentifier,
        encryptedToken: rsaEncrypt(tokenKey.certificate, Buffer.from(`${ksefToken}|${timestampMs}`)),
        publicKeyId: tokenKey.publicKeyId,
      },
    });
    const authenticationToken = started.authenticationToken.token;
    await until(
      async () => (await this.request('GET', `/auth/${started.referenceNumber}`, { bearer: authenticationToken })).status.code === 200,
    );
    this.accessToken = (await this.request('POST', '/auth/token/redeem', { bearer: authenticationToken })).accessToken.token;
  }

  async openSession() {
    const key = crypto.randomBytes(32);
    const iv = crypto.randomBytes(16);
    const certificate = this.certificate('SymmetricKeyEncryption');
    const { referenceNumber } = await this.request('POST', '/sessions/online', {
      bearer: this.accessToken,
      body: {
        formCode: FA3,
        encryption: {
          encryptedSymmetricKey: rsaEncrypt(certificate.certificate, key),
          initializationVector: iv.toString('base64'),
          publicKeyId: certificate.publicKeyId,
        },
      },
    });
    return { referenceNumber, key, iv };
  }

  /** Sends every invoice (SEND_CONCURRENCY at a time), then reads the invoice list until all are final. */
  async process(xmls) {
    const session = await this.openSession();
    const bodies = xmls.map((xml) => {
      const cipher = crypto.createCipheriv('aes-256-cbc', session.key, session.iv);
      const encrypted = Buffer.concat([cipher.update(xml), cipher.final()]);
      return {
        invoiceHash: sha256(xml),
        invoiceSize: xml.length,
        encryptedInvoiceHash: sha256(encrypted),
        encryptedInvoiceSize: encrypted.length,
        encryptedInvoiceContent: encrypted.toString('base64'),
        offlineMode: false,
      };
    });
    const started = process.hrtime.bigint();
    let next = 0;
    const sender = async () => {
      while (next < bodies.length) {
        const body = bodies[next++];
        await this.request('POST', `/sessions/online/${session.referenceNumber}/invoices`, { bearer: this.accessToken, body });
      }
    };
    await Promise.all(Array.from({ length: SEND_CONCURRENCY }, sender));
    let listed;
    await until(async () => {
      listed = await this.request('GET', `/sessions/${session.referenceNumber}/invoices?pageSize=1000`, { bearer: this.accessToken });
      return listed.invoices.length === xmls.length && listed.invoices.every((i) => i.status.code !== 100 && i.status.code !== 150);
    });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const failed = listed.invoices.filter((i) => i.status.code !== 200);
    if (failed.length > 0) throw new Error(`${failed.length} invoices were not accepted, e.g. ${JSON.stringify(failed[0].status)}`);
    await this.request('POST', `/sessions/online/${session.referenceNumber}/close`, { bearer: this.accessToken });
    return seconds;
  }
}

async function until(done) {
  while (!(await done())) await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
}

async function main() {
  const specDir = findSpecFolder();
  if (!specDir) throw new Error('The benchmark validates with the official XSDs: set KSEF_SPEC_DIR to the folder containing ksef-docs/.');
  const xsd = createXsdValidator(specDir);
  const sandbox = await startSandbox({ specDir, rateLimits: unlimitedRateLimits() });
  try {
    const api = new Api(sandbox.baseUrl);
    await api.authenticate(sandbox.ksefToken, sandbox.contextIdentifier);
    await api.process(invoices(20)); // warm-up: every validation worker compiles the schema, JIT
    for (let round = 0; round < rounds; round++) {
      const batch = invoices(invoiceCount);
      const seconds = await api.process(batch);
      // One validation at a time: bare XSD validation on one core, for the same invoices.
      const validationStarted = process.hrtime.bigint();
      for (const xml of batch) {
        const errors = await xsd.validateInvoice(xml, 'FA(3)');
        if (errors.length > 0) throw new Error(`a generated invoice is not valid: ${errors[0]}`);
      }
      const xsdMsPerInvoice = Number(process.hrtime.bigint() - validationStarted) / 1e6 / batch.length;
      console.log(
        JSON.stringify({
          bench: 'sandbox',
          n: invoiceCount,
          invoicesPerSecond: Math.round(invoiceCount / seconds),
          xsdMsPerInvoice: Number(xsdMsPerInvoice.toFixed(2)),
          singleCoreLimitInvoicesPerSecond: Math.round(1000 / xsdMsPerInvoice),
        }),
      );
    }
  } finally {
    await sandbox.close();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
