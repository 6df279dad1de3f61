import { Agent, request } from 'node:https';

/** Request options the pinned fetch understands (what `proxmox-api` and the control client pass). */
export interface PinnedRequestInit {
  method?: string;
  headers?: Record<string, string> | Headers | Array<[string, string]>;
  body?: string | Buffer | URLSearchParams | null;
  signal?: AbortSignal | null;
}

export type PinnedFetch = (input: string | URL, init?: PinnedRequestInit) => Promise<Response>;

/**
 * A `fetch` that trusts exactly the given CA (and nothing else), so clients verify the
 * simulator's certificate instead of disabling TLS checks. Hand it to `proxmox-api` as its
 * `fetch` option. Each request uses a fresh connection, so an injected connection drop reaches
 * the client as the network error it would see from a real server.
 */
export function createPinnedFetch(caPem: string): PinnedFetch {
  const agent = new Agent({ ca: caPem, keepAlive: false });
  return (input, init = {}) =>
    new Promise<Response>((resolve, reject) => {
      const url = new URL(String(input));
      const headers = Object.fromEntries(new Headers(init.headers as ConstructorParameters<typeof Headers>[0]).entries());
      const body = init.body instanceof URLSearchParams ? init.body.toString() : init.body ?? undefined;
      const req = request(
        url,
        { method: init.method ?? 'GET', headers, agent, signal: init.signal ?? undefined },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', reject);
          res.on('end', () => {
            const status = res.statusCode ?? 500;
            const responseHeaders = new Headers();
            for (const [name, value] of Object.entries(res.headers)) {
              if (value === undefined) continue;
              for (const item of Array.isArray(value) ? value : [value]) responseHeaders.append(name, item);
            }
            const payload = status === 204 || status === 304 ? null : Buffer.concat(chunks);
            resolve(new Response(payload, { status, statusText: res.statusMessage ?? '', headers: responseHeaders }));
          });
        },
      );
      req.on('error', reject);
      if (body !== undefined) req.write(body);
      req.end();
    });
}
