/**
 * A loopback HTTP proxy in front of the real sandbox that can inject the faults real networks and a real
 * KSeF produce (lost answers, 429, rotated keys) at chosen requests. Everything else passes through untouched.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ProxiedRequest {
  method: string;
  /** Path below `/v2`, without the query, e.g. `/sessions/online`. */
  path: string;
}

export type Fault =
  /** Answer instead of the sandbox. */
  | { kind: 'respond'; status: number; headers?: Record<string, string>; body?: unknown }
  /** Answer instead of the sandbox with an HTML error page that lists the request's headers, as some gateways do. */
  | { kind: 'echoHeaders'; status: number }
  /** Let the sandbox process the request, then cut the connection before the client sees the answer. */
  | { kind: 'loseAnswer' }
  /** Let the sandbox process the request, then answer this instead (a gateway error or garbage after the work was done). */
  | { kind: 'replaceAnswer'; status: number; headers?: Record<string, string>; body?: string }
  /** Let the sandbox process the request, then hold its answer back for `ms`. */
  | { kind: 'delayAnswer'; ms: number }
  /** Send the sandbox's answer one byte every `intervalMs`, as a stalled network or server does. */
  | { kind: 'trickleAnswer'; intervalMs: number }
  /** Pass the sandbox's JSON answer through `change` first. */
  | { kind: 'rewriteJson'; change: (body: any) => unknown };

interface Rule {
  matches: (request: ProxiedRequest) => boolean;
  fault: Fault;
  remaining: number;
}

export interface FaultProxy {
  /** API root to give the client (`http://127.0.0.1:N/v2`). */
  baseUrl: string;
  /** Every request that reached the proxy, in order. */
  requests: ProxiedRequest[];
  /** Injects `fault` into the next `times` requests that match. */
  inject(matches: (request: ProxiedRequest) => boolean, fault: Fault, times?: number): void;
  count(method: string, path: string | RegExp): number;
  close(): Promise<void>;
}

function trickle(res: http.ServerResponse, status: number, headers: http.IncomingHttpHeaders, body: Buffer, intervalMs: number): void {
  res.writeHead(status, headers);
  let sent = 0;
  const timer = setInterval(() => {
    if (res.destroyed || sent >= body.length) {
      clearInterval(timer);
      if (!res.destroyed) res.end();
      return;
    }
    res.write(body.subarray(sent, ++sent));
  }, intervalMs);
  res.on('close', () => clearInterval(timer));
}

export async function startFaultProxy(targetBaseUrl: string): Promise<FaultProxy> {
  const target = new URL(targetBaseUrl);
  const apiPrefix = target.pathname.replace(/\/$/, '');
  const rules: Rule[] = [];
  const requests: ProxiedRequest[] = [];

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://proxy');
      const request = { method: req.method ?? 'GET', path: url.pathname.replace(apiPrefix, '') };
      requests.push(request);
      const rule = rules.find((r) => r.remaining > 0 && r.matches(request));
      if (rule) rule.remaining--;
      const fault = rule?.fault;
      if (fault?.kind === 'respond') {
        const body = fault.body === undefined ? '' : typeof fault.body === 'string' ? fault.body : JSON.stringify(fault.body);
        res.writeHead(fault.status, { 'content-type': 'application/json', ...fault.headers });
        res.end(body);
        return;
      }
      if (fault?.kind === 'echoHeaders') {
        const rows = Object.entries(req.headers).map(([name, value]) => `<tr><th>${name}</th><td>${value}</td></tr>`);
        res.writeHead(fault.status, { 'content-type': 'text/html' });
        res.end(
          `<html><head><title>${fault.status} Bad Gateway</title></head><body><h1>Bad Gateway</h1>\n<p>The upstream server sent no valid answer.</p>\n<table>${rows.join('\n')}</table></body></html>`,
        );
        return;
      }
      const upstream = http.request(
        { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, host: target.host } },
        (answer) => {
          const answerChunks: Buffer[] = [];
          answer.on('data', (chunk: Buffer) => answerChunks.push(chunk));
          answer.on('end', () => {
            if (fault?.kind === 'loseAnswer') {
              req.socket.destroy();
              return;
            }
            if (fault?.kind === 'replaceAnswer') {
              res.writeHead(fault.status, { 'content-type': 'text/html', ...fault.headers });
              res.end(fault.body ?? '');
              return;
            }
            let body = Buffer.concat(answerChunks);
            const headers = { ...answer.headers };
            if (fault?.kind === 'rewriteJson') {
              body = Buffer.from(JSON.stringify(fault.change(JSON.parse(body.toString('utf8')))));
              headers['content-length'] = String(body.length);
            }
            const deliver = () => {
              if (res.destroyed) return;
              res.writeHead(answer.statusCode ?? 502, headers);
              res.end(body);
            };
            if (fault?.kind === 'delayAnswer') setTimeout(deliver, fault.ms);
            else if (fault?.kind === 'trickleAnswer') trickle(res, answer.statusCode ?? 502, headers, body, fault.intervalMs);
            else deliver();
          });
        },
      );
      upstream.on('error', () => res.destroy());
      upstream.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    baseUrl: `http://127.0.0.1:${port}${apiPrefix}`,
    requests,
    inject(matches, fault, times = 1) {
      rules.push({ matches, fault, remaining: times });
    },
    count(method, path) {
      return requests.filter((r) => r.method === method && (typeof path === 'string' ? r.path === path : path.test(r.path))).length;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
