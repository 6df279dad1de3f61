import { Agent, request } from 'node:https';
import proxmoxApi from 'proxmox-api';
import type { ProxmoxConnection } from './types';

export type ProxmoxApi = ReturnType<typeof proxmoxApi>;

interface FetchInit {
  method?: string;
  headers?: Record<string, string>;
  body?: string | null;
  signal?: AbortSignal | null;
}

/**
 * A `fetch` for `proxmox-api` that trusts exactly the cluster's CA. TLS verification stays on:
 * Proxmox clusters use their own CA, and trusting it (rather than "any certificate") is what keeps
 * the token secret from a man in the middle. HTTP/1.1 on purpose: PVE's messages travel in the
 * reason phrase, which HTTP/2 does not have.
 */
export function createPinnedFetch(caPem: string, { keepAlive = false }: PinnedFetchOptions = {}) {
  // No keep-alive by default: a pooled socket closed by pveproxy would surface as a network
  // error, and proxmox-api answers those by repeating the call — POSTs included.
  // Kept sockets are closed after 5 idle seconds (and never hold the process open): a round's
  // client is dropped after the round, its sockets go soon after.
  const agent = new Agent({ ca: caPem, keepAlive, ...(keepAlive ? { maxSockets: 16, timeout: 5_000 } : {}) });
  return (input: string | URL, init: FetchInit = {}): Promise<Response> =>
    new Promise<Response>((resolve, reject) => {
      const req = request(
        new URL(String(input)),
        { method: init.method ?? 'GET', headers: init.headers, agent, signal: init.signal ?? undefined },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', reject);
          res.on('end', () => {
            const status = res.statusCode ?? 500;
            const headers = new Headers();
            for (const [name, value] of Object.entries(res.headers)) {
              if (value === undefined) continue;
              for (const item of Array.isArray(value) ? value : [value]) headers.append(name, item);
            }
            const body = status === 204 || status === 304 ? null : Buffer.concat(chunks);
            resolve(new Response(body, { status, statusText: res.statusMessage ?? '', headers }));
          });
        },
      );
      req.on('error', reject);
      if (init.body != null) req.write(init.body);
      req.end();
    });
}

export interface PinnedFetchOptions {
  /**
   * Reuse connections. Only for a client that reads and nothing else (the metrics collector): a
   * read that proxmox-api repeats after pveproxy closed a pooled socket does no harm, and a round
   * of a few hundred guest-agent reads then costs a few TLS handshakes instead of one each.
   */
  keepAlive?: boolean;
}

/** An unmodified `proxmox-api` client for one cluster, authenticated with its API token. */
export function connectProxmox(connection: ProxmoxConnection, options: PinnedFetchOptions = {}): ProxmoxApi {
  const url = new URL(connection.url);
  return proxmoxApi({
    host: url.hostname,
    // proxmox-api has no default port: without one it would go to 443.
    port: Number(url.port || 8006),
    schema: 'https',
    tokenID: connection.tokenId,
    tokenSecret: connection.tokenSecret,
    queryTimeout: 60_000,
    fetch: createPinnedFetch(connection.caPem, options) as never,
  });
}
