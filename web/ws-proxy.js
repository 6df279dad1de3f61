/**
 * Passes WebSocket handshakes for /api/* (the container terminal) through to the API, then
 * relays the raw bytes both ways. SvelteKit's hooks only see requests, never upgrades, so
 * server.js hands its `'upgrade'` events here; everything else still goes through
 * hooks.server.ts.
 *
 * The browser's handshake is forwarded as it came, `Host` included: the API checks that the
 * `Origin` names that host (cross-site WebSocket hijacking). `X-Forwarded-For` gets the
 * browser's address appended, as the HTTP proxy does.
 *
 * Plain ESM with JSDoc types and no dependencies: server.js runs without a build step, and
 * tests import this file directly.
 */
import { connect as connectTcp } from 'node:net';
import { connect as connectTls } from 'node:tls';

/** Hop-by-hop headers that describe the browser's connection to us (kept: Connection, Upgrade). */
const DROP = new Set(['x-forwarded-for', 'proxy-connection', 'keep-alive', 'te', 'trailer', 'transfer-encoding']);

/** How long the API gets to accept the TCP (or TLS) connection. */
const CONNECT_TIMEOUT_MS = 10_000;

/**
 * @param {{ apiUrl: string }} options `apiUrl`: the API's base URL (`http://127.0.0.1:3000`);
 *   https means TLS to the API. A path in it prefixes the forwarded path, as in the HTTP proxy.
 */
export function createUpgradeProxy({ apiUrl }) {
  const target = new URL(apiUrl);
  if (target.protocol !== 'http:' && target.protocol !== 'https:') throw new Error(`API_URL must be http(s)://, got ${apiUrl}`);
  const secure = target.protocol === 'https:';
  const host = target.hostname.replace(/^\[|\]$/g, '');
  const port = Number(target.port || (secure ? 443 : 80));
  const basePath = target.pathname.replace(/\/+$/, '');
  /** @type {Set<import('node:net').Socket>} */
  const open = new Set();

  /** @param {import('node:net').Socket} socket */
  function track(socket) {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
  }

  /**
   * The `'upgrade'` listener for a `node:http` server.
   * @param {import('node:http').IncomingMessage} req
   * @param {import('node:stream').Duplex} client
   * @param {Buffer} head bytes the browser sent after its handshake
   */
  function handleUpgrade(req, client, head) {
    const path = req.url ?? '/';
    const socket = /** @type {import('node:net').Socket} */ (client);
    if (!(path === '/api' || path.startsWith('/api/') || path.startsWith('/api?'))) return void socket.destroy();
    track(socket);

    const upstream = secure ? connectTls({ host, port, servername: isIp(host) ? undefined : host }) : connectTcp({ host, port });
    track(upstream);
    upstream.setTimeout(CONNECT_TIMEOUT_MS, () => upstream.destroy(new Error('timed out connecting')));
    let connected = false;

    upstream.once(secure ? 'secureConnect' : 'connect', () => {
      connected = true;
      upstream.setTimeout(0);
      upstream.setNoDelay(true);
      socket.setNoDelay(true);
      upstream.write(handshake(req, basePath + path));
      if (head.length) upstream.write(head);
      socket.pipe(upstream);
      upstream.pipe(socket);
    });
    upstream.on('error', (err) => {
      if (!connected && socket.writable) {
        const body = JSON.stringify({ code: 'bad_gateway', message: `the API at ${apiUrl} is not reachable (${err.message})`, requestId: '' });
        socket.end(`HTTP/1.1 502 Bad Gateway\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
      } else {
        socket.destroy();
      }
    });
    upstream.once('close', () => socket.destroy());
    socket.on('error', () => upstream.destroy());
    socket.once('close', () => upstream.destroy());
  }

  return {
    handleUpgrade,
    /** Relayed connections open now (browser side and API side each count). */
    get size() {
      return open.size;
    },
    /** Cuts every relayed connection, for a graceful stop. */
    closeAll() {
      for (const s of open) s.destroy();
    },
  };
}

/**
 * The browser's request line and headers, as it sent them, with `X-Forwarded-For` extended.
 * @param {import('node:http').IncomingMessage} req
 * @param {string} path
 */
function handshake(req, path) {
  const lines = [`${req.method ?? 'GET'} ${path} HTTP/1.1`];
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = /** @type {string} */ (raw[i]);
    if (!DROP.has(name.toLowerCase())) lines.push(`${name}: ${raw[i + 1]}`);
  }
  const forwarded = req.headers['x-forwarded-for'];
  const prior = Array.isArray(forwarded) ? forwarded.join(', ') : forwarded;
  const client = req.socket.remoteAddress;
  const chain = [prior, client].filter(Boolean).join(', ');
  if (chain) lines.push(`X-Forwarded-For: ${chain}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/** @param {string} host */
const isIp = (host) => /^[\d.]+$/.test(host) || host.includes(':');
