import type { IncomingMessage } from 'node:http';
import { PveError } from './errors';

/** A raw parameter value: repeated keys form arrays; JSON bodies may carry numbers and booleans. */
export type RawValue = string | number | boolean | Array<string | number | boolean>;
export type RawParams = Record<string, RawValue>;

export const API_PREFIX = '/api2/json';

/** pve-http-server refuses larger request bodies too. */
const MAX_BODY_BYTES = 64 * 1024;

/**
 * Splits the request path into decoded segments. Clients escape differently (`!` raw or as
 * `%21`, `/` inside a volume id as `%2F`, a trailing slash on DELETE), so each segment is decoded
 * on its own and empty segments are dropped: every spelling reaches the same route.
 */
export function splitPath(rawPath: string): string[] {
  return rawPath
    .split('/')
    .filter((segment) => segment.length > 0)
    .map((segment) => {
      try {
        return decodeURIComponent(segment);
      } catch {
        return segment;
      }
    });
}

/** Adds one key/value, turning a repeated key into an array. */
function addParam(params: RawParams, key: string, value: string | number | boolean): void {
  const existing = params[key];
  if (existing === undefined) params[key] = value;
  else if (Array.isArray(existing)) existing.push(value);
  else params[key] = [existing, value];
}

export function paramsFromSearch(search: URLSearchParams): RawParams {
  const params: RawParams = {};
  for (const [key, value] of search) addParam(params, key, value);
  return params;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > MAX_BODY_BYTES) throw new PveError(413, 'Request Entity Too Large');
    chunks.push(buffer);
  }
  return Buffer.concat(chunks);
}

/**
 * Parameters of a POST/PUT body: urlencoded (what pvesh, the web UI and `proxmox-api` send) or
 * JSON (what the bpg provider sends). Query parameters are merged underneath, as pve-http-server
 * does.
 */
export async function readBodyParams(req: IncomingMessage, query: RawParams): Promise<RawParams> {
  const body = await readBody(req);
  const params: RawParams = { ...query };
  if (body.length === 0) return params;
  const contentType = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (contentType === 'application/json') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      throw new PveError(400, 'malformed JSON string');
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new PveError(400, 'malformed JSON string');
    }
    for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
      if (value === null || value === undefined) continue;
      if (Array.isArray(value)) {
        params[key] = value.map((item) => (typeof item === 'object' ? JSON.stringify(item) : (item as string | number | boolean)));
      } else if (typeof value === 'object') {
        params[key] = JSON.stringify(value);
      } else {
        params[key] = value as string | number | boolean;
      }
    }
    return params;
  }
  for (const [key, value] of new URLSearchParams(body.toString('utf8'))) {
    if (key in query && params[key] === query[key]) delete params[key];
    addParam(params, key, value);
  }
  return params;
}
