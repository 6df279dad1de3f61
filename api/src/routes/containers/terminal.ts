import { createRoute, z } from '@hono/zod-openapi';
import type { UpgradeWebSocket } from 'hono/ws';
import { createMiddleware } from 'hono/factory';
import type { WebSocket } from 'ws';
import { requirePermission } from '../../auth/middleware';
import type { AppEnv } from '../../context';
import { AppError, ForbiddenError } from '../../errors';
import { createRouter } from '../../router';
import { ErrorSchema, errorResponses, UuidParam } from '../../schemas';
import { serviceContext } from '../../services/context';
import { prepareTerminal, TERMINAL_SHELLS, TerminalClose, type TerminalSession, type TerminalSessions } from '../../services/terminal-service';

export const TerminalQuery = z.object({
  shell: z.enum(TERMINAL_SHELLS).default('sh').openapi({ description: 'The shell to run; `sh` unless asked' }),
});

/**
 * WebSocket handshakes are GETs that carry the session cookie and no CSRF token, so a page on
 * any site could open one with the operator's cookie (cross-site WebSocket hijacking). Browsers
 * always send `Origin` on a handshake and scripts cannot forge it: require it to name this host
 * (the web app's proxy keeps the browser's `Host`) or one of `allowedOrigins`.
 */
export function requireSameOrigin(allowedOrigins: readonly string[] = []) {
  const allowed = new Set(allowedOrigins.map((o) => o.replace(/\/+$/, '').toLowerCase()));
  return createMiddleware<AppEnv>(async (c, next) => {
    const origin = c.req.header('origin');
    if (!origin) throw new ForbiddenError('a WebSocket handshake must carry an Origin header');
    let originHost: string;
    try {
      const url = new URL(origin);
      originHost = url.host.toLowerCase();
    } catch {
      throw new ForbiddenError(`Origin ${origin} is not a URL`);
    }
    const host = c.req.header('host')?.toLowerCase();
    if (originHost !== host && !allowed.has(origin.toLowerCase())) throw new ForbiddenError(`Origin ${origin} may not open a terminal on ${host ?? 'this host'}`);
    return next();
  });
}

const terminalRoute = (allowedOrigins: readonly string[]) => createRoute({
  method: 'get',
  path: '/{id}/terminal',
  tags: ['containers'],
  summary: 'A shell in the running container, over a WebSocket',
  description: [
    'Upgrades to a WebSocket attached to `docker exec <shell>` with a TTY in the container (`container.exec`; audited as `container.exec`).',
    'The handshake needs an `Origin` header naming this host. Refusals are plain HTTP answers to the handshake: 401, 403, 404 (no such container in the organization), 409 (not running).',
    '',
    'Frames: binary (or text) from the client are keystrokes; a text frame `{"type":"resize","cols":N,"rows":M}` (1–1000 each) resizes the TTY.',
    'From the server: binary frames are terminal output; text frames are JSON control messages (`{"type":"error","message":…}`).',
    `Close codes: ${TerminalClose.exited} when the shell exits (the reason has its exit code), ${TerminalClose.failed} when it could not start, ${TerminalClose.idle} after long idleness, ${TerminalClose.goingAway} when the API stops.`,
  ].join('\n'),
  middleware: [requirePermission('container.exec'), requireSameOrigin(allowedOrigins)],
  request: { params: UuidParam, query: TerminalQuery },
  responses: {
    101: { description: 'Switching Protocols: the terminal' },
    ...errorResponses,
    426: { content: { 'application/json': { schema: ErrorSchema } }, description: 'Not a WebSocket handshake' },
    502: { content: { 'application/json': { schema: ErrorSchema } }, description: "The node's Docker engine is not reachable from the API" },
  },
});

/**
 * `GET /api/containers/{id}/terminal`, mounted at /api/containers beside the resource's other
 * routes. `upgradeWebSocket` comes from the process's node WebSocket server (app.ts);
 * authentication has already run (app.ts, for /api/containers/*).
 */
export function containerTerminalRoutes(deps: { upgradeWebSocket: UpgradeWebSocket<WebSocket>; sessions: TerminalSessions; allowedOrigins?: readonly string[] }) {
  return createRouter().openapi(terminalRoute(deps.allowedOrigins ?? []), async (c) => {
    if (c.req.header('upgrade')?.toLowerCase() !== 'websocket') throw new AppError(426, 'upgrade_required', 'this endpoint is a WebSocket: send an Upgrade: websocket handshake');
    const ctx = serviceContext(c);
    const target = await prepareTerminal(ctx, c.req.valid('param').id, c.req.valid('query').shell);
    let session: TerminalSession | undefined;
    const upgraded = await deps.upgradeWebSocket(c, {
      onOpen: (_event, ws) => {
        session = deps.sessions.start(ctx, target, ws.raw!);
      },
      onMessage: (event) => session?.receive(event.data as string | ArrayBuffer),
      // The browser left (or the heartbeat cut it): the socket is closed, the code unused.
      onClose: () => void session?.end(TerminalClose.exited, 'socket closed'),
    });
    // The WebSocket server writes the 101 itself; this response only marks the upgrade.
    return upgraded as never;
  });
}
