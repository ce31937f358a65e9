import * as http from 'node:http';
import * as https from 'node:https';

/**
 * How long an idle kept-alive connection is kept when the server names no limit of its own. Setting one also makes
 * Node.js honour a server's `Keep-Alive: timeout=N` hint (it drops the connection a second before the server
 * would); without it a connection idle for exactly the server's limit may be picked for the next request just as
 * the server closes it, and that request fails with ECONNRESET (seen with Node's default 5 s server timeout).
 */
export const IDLE_CONNECTION_MS = 30_000;

/** Keep-alive agents for one client's connections to the API or to the storage URLs. */
export function keepAliveAgents(): { http: http.Agent; https: https.Agent } {
  const options = { keepAlive: true, timeout: IDLE_CONNECTION_MS };
  return { http: new http.Agent(options), https: new https.Agent(options) };
}
