/**
 * Forwards a browser's /api/* request to the API and its answer back, so that the browser sees
 * one origin: the session cookie (HttpOnly, SameSite=Lax) and the CSRF header work unchanged.
 *
 * Streams both ways: request bodies are not read here, and responses (Server-Sent Events
 * included) are passed through chunk by chunk. When the browser goes away, the request's signal
 * aborts the upstream request too.
 */

/** Hop-by-hop headers (RFC 9110 §7.6.1) and ones that describe this hop's connection. */
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host'];

export interface ProxyOptions {
  /** The API's base URL, without a trailing slash (`http://127.0.0.1:3000`). */
  apiUrl: string;
  /** The browser's address, appended to X-Forwarded-For. */
  clientAddress?: string;
  fetch?: typeof fetch;
}

export async function proxyToApi(request: Request, options: ProxyOptions): Promise<Response> {
  const url = new URL(request.url);
  const target = `${options.apiUrl}${url.pathname}${url.search}`;

  const headers = new Headers(request.headers);
  for (const h of HOP_BY_HOP) headers.delete(h);
  // Node's fetch would decompress a compressed answer but keep its Content-Encoding, and the
  // browser would then decode it twice: ask for it uncompressed.
  headers.delete('accept-encoding');
  const forwardedFor = request.headers.get('x-forwarded-for');
  if (options.clientAddress) headers.set('x-forwarded-for', forwardedFor ? `${forwardedFor}, ${options.clientAddress}` : options.clientAddress);
  headers.set('x-forwarded-host', url.host);
  headers.set('x-forwarded-proto', url.protocol.replace(':', ''));

  const hasBody = request.method !== 'GET' && request.method !== 'HEAD' && request.body !== null;
  let upstream: Response;
  try {
    upstream = await (options.fetch ?? fetch)(target, {
      method: request.method,
      headers,
      body: hasBody ? request.body : undefined,
      // @ts-expect-error: Node's fetch needs `duplex` to send a stream; the DOM types lack it.
      duplex: hasBody ? 'half' : undefined,
      redirect: 'manual',
      signal: request.signal,
    });
  } catch (err) {
    if (request.signal.aborted) return new Response(null, { status: 499 });
    return Response.json(
      { code: 'bad_gateway', message: `the API at ${options.apiUrl} is not reachable (${(err as Error).cause ?? (err as Error).message})`, requestId: '' },
      { status: 502 },
    );
  }

  const responseHeaders = new Headers();
  for (const [name, value] of upstream.headers) {
    if (name === 'set-cookie' || HOP_BY_HOP.includes(name)) continue;
    responseHeaders.append(name, value);
  }
  // Set-Cookie must stay separate headers: a combined one breaks cookies that carry dates.
  for (const cookie of upstream.headers.getSetCookie()) responseHeaders.append('set-cookie', cookie);
  if (upstream.headers.has('content-encoding')) {
    // Node's fetch has already decoded the body, so these no longer describe it.
    responseHeaders.delete('content-encoding');
    responseHeaders.delete('content-length');
  }
  return new Response(upstream.body, { status: upstream.status, statusText: upstream.statusText, headers: responseHeaders });
}
