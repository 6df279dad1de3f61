import type { IncomingMessage } from 'node:http';
import type { MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { PayloadTooLargeError } from './errors';

const BODILESS = new Set(['GET', 'HEAD', 'OPTIONS']);
const TEXTUAL = /^(application\/([\w.-]+\+)?json|text\/)/i;

/**
 * Reads a request's body once, refusing it (413) as soon as it is larger than `maxSize(path)`.
 *
 * Served by Node, the body is read straight from the socket's `IncomingMessage` and handed to
 * Hono's body cache (`c.req.bodyCache`: the bytes, and for JSON and text the text), so
 * validators and handlers get it without a Web `Request` being built around the socket and read
 * as a Web stream — per request, that costs more CPU than the rest of the route (bench/README.md,
 * "The API's own CPU per request"). The bytes are also left as `incoming.rawBody`, which
 * `@hono/node-server` uses if something still asks for the Web `Request`.
 * Without a Node request (`app.request()` in tests) it is Hono's own `bodyLimit`.
 */
export function readBody(maxSize: (path: string) => number): MiddlewareHandler {
  const limits = new Map<number, MiddlewareHandler>();
  const honoLimit = (size: number) => {
    let limit = limits.get(size);
    if (!limit) {
      limit = bodyLimit({
        maxSize: size,
        onError: () => {
          throw tooLarge(size);
        },
      });
      limits.set(size, limit);
    }
    return limit;
  };
  return async (c, next) => {
    const size = maxSize(c.req.path);
    const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
    if (!incoming) return honoLimit(size)(c, next);
    if (BODILESS.has(c.req.method)) return next();
    const bytes = await readIncoming(incoming, size);
    (incoming as IncomingMessage & { rawBody?: Buffer }).rawBody = bytes;
    // Hono keeps the promises of what it read in `bodyCache` (its type names the resolved values).
    const cache = c.req.bodyCache as Record<string, Promise<unknown>>;
    cache.arrayBuffer = Promise.resolve(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
    if (TEXTUAL.test(c.req.header('content-type') ?? '')) cache.text = Promise.resolve(bytes.toString('utf8'));
    return next();
  };
}

const tooLarge = (size: number) => new PayloadTooLargeError(`request body is larger than ${size} bytes`);

/** The whole body, or a 413 once it passes `maxSize` (a declared length over it is refused before a byte is read). */
function readIncoming(incoming: IncomingMessage, maxSize: number): Promise<Buffer> {
  const declared = Number(incoming.headers['content-length']);
  if (declared > maxSize) return Promise.reject(tooLarge(maxSize));
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    const done = (err?: Error) => {
      incoming.off('data', onData).off('end', onEnd).off('error', onError).off('aborted', onAborted);
      if (err) {
        // Stop reading; what is left is drained by the server once the answer is sent.
        incoming.pause();
        reject(err);
      } else resolve(Buffer.concat(chunks, length));
    };
    const onData = (chunk: Buffer) => {
      length += chunk.length;
      if (length > maxSize) return done(tooLarge(maxSize));
      chunks.push(chunk);
    };
    const onEnd = () => done();
    const onError = (err: Error) => done(err);
    const onAborted = () => done(new Error('the client closed the request before its body was read'));
    incoming.on('data', onData).on('end', onEnd).on('error', onError).on('aborted', onAborted);
  });
}
