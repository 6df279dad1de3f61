/**
 * The web app's production server: adapter-node's handler for every request (the app, and
 * /api/* through hooks.server.ts), plus WebSocket upgrades under /api/ relayed to the API
 * (the container terminal), which SvelteKit's hooks cannot carry.
 *
 *   npm run build -w @keelson/web && API_URL=http://127.0.0.1:3000 PORT=5173 node web/server.js
 *
 * Settings as for `node web/build`: HOST (0.0.0.0), PORT (3000), ORIGIN, API_URL
 * (http://127.0.0.1:3000), BODY_SIZE_LIMIT, SHUTDOWN_TIMEOUT (30 s). `node web/build` still
 * works where nobody needs a terminal.
 */
import { createServer } from 'node:http';
import process from 'node:process';
import { handler } from './build/handler.js';
import { createUpgradeProxy } from './ws-proxy.js';

const host = process.env.HOST || '0.0.0.0';
const port = Number(process.env.PORT || 3000);
const shutdownTimeoutS = Number(process.env.SHUTDOWN_TIMEOUT || 30);
if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`PORT must be a port number, got "${process.env.PORT}"`);

// hooks.server.ts validated API_URL when the handler loaded; the same value, the same default.
const upgrades = createUpgradeProxy({ apiUrl: process.env.API_URL || 'http://127.0.0.1:3000' });

const server = createServer((req, res) => {
  handler(req, res, () => {
    // adapter-node's handler answers everything itself; this only runs if it ever passes.
    res.writeHead(404).end();
  });
});
server.on('upgrade', upgrades.handleUpgrade);

server.listen({ host, port }, () => {
  const address = server.address();
  const shown = address && typeof address === 'object' ? `${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}` : `${host}:${port}`;
  console.log(`Listening on http://${shown}`);
});

let stopping = false;
/**
 * Like adapter-node: finish open requests, then stop; cut what is still open after the timeout.
 * @param {'SIGINT' | 'SIGTERM'} signal
 */
function shutdown(signal) {
  if (stopping) return;
  stopping = true;
  // Relayed WebSockets never finish by themselves; the browser reconnects to another instance.
  upgrades.closeAll();
  server.closeIdleConnections();
  const cut = setTimeout(() => server.closeAllConnections(), shutdownTimeoutS * 1000);
  cut.unref();
  server.close(() => {
    clearTimeout(cut);
    // @ts-expect-error: adapter-node's custom event, for code that cleans up on shutdown.
    process.emit('sveltekit:shutdown', signal);
  });
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
