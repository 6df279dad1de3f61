import { swaggerUI } from '@hono/swagger-ui';
import { secureHeaders } from 'hono/secure-headers';
import { randomUUID } from 'node:crypto';
import { getConnInfo } from '@hono/node-server/conninfo';
import { createNodeWebSocket } from '@hono/node-ws';
import { cors } from 'hono/cors';
import { authenticate, authenticateWith } from './auth/middleware';
import { clientIp } from './client-ip';
import { guardRequest } from './edge';
import type { AppDeps } from './deps';
import { errorBody, onError } from './errors';
import { readBody } from './request-body';
import { createRouter } from './router';
import { apiKeysRoutes } from './routes/api-keys/index';
import { auditRoutes } from './routes/audit/index';
import { authRoutes } from './routes/auth/index';
import { appsRoutes } from './routes/apps/index';
import { blueprintsRoutes } from './routes/blueprints/index';
import { codecRoutes } from './routes/codec/index';
import { containersRoutes } from './routes/containers/index';
import { webhooksRoutes } from './routes/webhooks';
import { containerTerminalRoutes } from './routes/containers/terminal';
import { membersRoutes } from './routes/members/index';
import { invitationsRoutes } from './routes/invitations/index';
import { nodesRoutes } from './routes/nodes/index';
import { terraformRoutes } from './routes/terraform/index';
import { proxmoxRoutes } from './routes/proxmox/index';
import { runsRoutes } from './routes/runs/index';
import { mailRoutes } from './routes/mail/index';
import { monitoringRoutes } from './routes/monitoring/index';
import { customersRoutes } from './routes/customers/index';
import { catalogRoutes } from './routes/catalog/index';
import { ordersRoutes } from './routes/orders/index';
import { quotesRoutes } from './routes/quotes/index';
import { billingRoutes } from './routes/billing/admin';
import { creditNotesRoutes, invoicesRoutes } from './routes/billing/invoices';
import { subscriptionsRoutes } from './routes/billing/subscriptions';
import { kycRoutes } from './routes/kyc/index';
import { kycWebhookRoutes } from './routes/kyc/webhook';
import { customerCardRoutes, invoicePaymentsRoutes, paymentsRoutes, stripeSettingsRoutes, stripeWebhookRoutes } from './routes/billing/payments';
import { KYC_MAX_DOCUMENT_BYTES } from './services/kyc/kyc-service';
import { ticketsRoutes } from './routes/tickets/index';
import { TICKET_MAX_ATTACHMENT_BYTES } from './services/tickets/tickets-service';
import { collectProcessMetrics, httpRequestDuration, registry } from '@keelson/activities/monitoring/prometheus';
import { routePath } from 'hono/route';
import { timingSafeEqual } from 'node:crypto';
import { createTerminalSessions } from './services/terminal-service';

export const API_VERSION = '0.1.0';
const MAX_BODY_BYTES = 1024 * 1024;

/** The whole HTTP API under /api. Stateless: every dependency arrives in `deps`. */
export function createApp(deps: AppDeps) {
  const app = createRouter();
  const trustedProxies = new Set(deps.config.trustedProxies ?? []);
  // WebSocket handshakes (the container terminal) go through this app's middleware too.
  const { upgradeWebSocket, injectWebSocket, wss } = createNodeWebSocket({ app });
  wss.options.maxPayload = MAX_BODY_BYTES;
  const terminals = createTerminalSessions();

  app.use('*', async (c, next) => {
    c.set('requestId', c.req.header('x-request-id')?.slice(0, 100) || randomUUID());
    c.set('deps', deps);
    let remote: string | null = null;
    try {
      remote = getConnInfo(c).remote.address ?? null;
    } catch {
      remote = null; // app.request() in tests has no socket
    }
    c.set('meta', { ip: clientIp(remote, c.req.header('x-forwarded-for'), trustedProxies), userAgent: c.req.header('user-agent') ?? null });
    c.header('X-Request-Id', c.get('requestId'));
    await next();
  });
  app.use('*', secureHeaders({ crossOriginResourcePolicy: false }));
  // Request durations by route pattern (never the raw path: ids would explode the label set).
  collectProcessMetrics();
  app.use('/api/*', async (c, next) => {
    const started = performance.now();
    try {
      await next();
    } finally {
      const route = c.res.status === 404 && routePath(c, -1) === '/api/*' ? 'unmatched' : routePath(c, -1);
      httpRequestDuration.observe({ method: c.req.method, route, status: String(c.res.status) }, (performance.now() - started) / 1000);
    }
  });
  // Identity documents (photos, scans) and ticket attachments (screenshots, logs) are the bodies
  // allowed to be larger.
  const kycUpload = /^\/api\/kyc\/cases\/[^/]+\/documents$/;
  app.use(
    '/api/*',
    readBody((path) => (kycUpload.test(path) ? KYC_MAX_DOCUMENT_BYTES : path === '/api/tickets/attachments' ? TICKET_MAX_ATTACHMENT_BYTES : MAX_BODY_BYTES)),
  );

  // Query parameters and the header values Keelson reads, for every route (see edge.ts).
  app.use('/api/*', guardRequest);

  for (const prefix of ['/api/runs', '/api/nodes', '/api/blueprints', '/api/containers', '/api/apps', '/api/proxmox', '/api/api-keys', '/api/members', '/api/audit', '/api/mail', '/api/monitoring', '/api/invitations', '/api/customers', '/api/catalog', '/api/quotes', '/api/orders', '/api/subscriptions', '/api/invoices', '/api/credit-notes', '/api/payments', '/api/billing', '/api/terraform', '/api/kyc', '/api/tickets']) {
    app.use(prefix, authenticate);
    app.use(`${prefix}/*`, authenticate);
  }
  // Temporal's UI calls the codec from the browser: CORS first (preflights carry no
  // credentials), and no CSRF token, since decoding and encoding change nothing.
  app.use(
    '/api/codec/*',
    cors({ origin: deps.config.codecCorsOrigins, credentials: true, allowHeaders: ['content-type', 'authorization', 'x-namespace'], allowMethods: ['POST', 'OPTIONS'] }),
    authenticateWith({ csrf: false }),
  );

  const routes = app
    .route('/api/auth', authRoutes(deps.db))
    .route('/api/runs', runsRoutes())
    .route('/api/nodes', nodesRoutes())
    .route('/api/blueprints', blueprintsRoutes())
    .route('/api/containers', containersRoutes())
    .route('/api/containers', containerTerminalRoutes({ upgradeWebSocket, sessions: terminals }))
    .route('/api/apps', appsRoutes())
    .route('/api/proxmox', proxmoxRoutes())
    .route('/api/terraform', terraformRoutes())
    .route('/api/monitoring', monitoringRoutes())
    .route('/api/webhooks/kyc', kycWebhookRoutes())
    .route('/api/webhooks/stripe', stripeWebhookRoutes())
    .route('/api/webhooks', webhooksRoutes())
    .route('/api/api-keys', apiKeysRoutes())
    .route('/api/members', membersRoutes())
    .route('/api/audit', auditRoutes())
    .route('/api/codec', codecRoutes())
    .route('/api/mail', mailRoutes())
    .route('/api/invitations', invitationsRoutes())
    .route('/api/customers', customersRoutes())
    .route('/api/customers', customerCardRoutes())
    .route('/api/catalog', catalogRoutes())
    .route('/api/quotes', quotesRoutes())
    .route('/api/orders', ordersRoutes())
    .route('/api/subscriptions', subscriptionsRoutes())
    .route('/api/invoices', invoicesRoutes())
    .route('/api/invoices', invoicePaymentsRoutes())
    .route('/api/credit-notes', creditNotesRoutes())
    .route('/api/payments', paymentsRoutes())
    .route('/api/billing', billingRoutes())
    .route('/api/billing', stripeSettingsRoutes())
    .route('/api/kyc', kycRoutes())
    .route('/api/tickets', ticketsRoutes());

  app.get('/api/health', async (c) => {
    const checks = await healthChecks(deps);
    const ok = Object.values(checks).every((v) => v === 'ok');
    return c.json({ status: ok ? 'ok' : 'degraded', version: API_VERSION, checks }, ok ? 200 : 503);
  });

  /** Prometheus metrics of this API process (see docs/monitoring.md). */
  app.get('/metrics', async (c) => {
    const token = deps.config.metricsToken;
    if (token) {
      const given = Buffer.from(c.req.header('authorization')?.replace(/^Bearer\s+/i, '') ?? '');
      const expected = Buffer.from(token);
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) return c.json(errorBody(c, 'unauthorized', 'a bearer token is required'), 401);
    }
    return c.body(await registry.metrics(), 200, { 'content-type': registry.contentType });
  });

  app.doc31('/api/openapi.json', {
    openapi: '3.1.0',
    info: { title: 'Keelson API', version: API_VERSION, description: 'Durable operations for hosting providers.' },
  });
  app.openAPIRegistry.registerComponent('securitySchemes', 'apiKey', { type: 'http', scheme: 'bearer' });
  app.openAPIRegistry.registerComponent('securitySchemes', 'session', { type: 'apiKey', in: 'cookie', name: 'keelson_session' });
  app.get('/api/docs', swaggerUI({ url: '/api/openapi.json' }));

  app.notFound((c) => c.json(errorBody(c, 'not_found', `no route for ${c.req.method} ${c.req.path}`), 404));
  app.onError(onError);
  return Object.assign(routes, {
    /** Serves WebSocket handshakes on the Node server that serves this app; call once per server. */
    injectWebSocket,
    /** Ends every open terminal and its shell, for a graceful stop. */
    closeTerminals: () => terminals.closeAll(),
  });
}

export type AppType = ReturnType<typeof createApp>;

/**
 * How long the health check waits for Temporal. The API's connection retries an unreachable
 * server for several seconds before it fails a call (decision 0040); a health check answers sooner.
 */
const HEALTH_TEMPORAL_TIMEOUT_MS = 2_000;

function withinMs<T>(ms: number, call: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms / 1000} s`)), ms);
  });
  return Promise.race([call, late]).finally(() => clearTimeout(timer));
}

async function healthChecks(deps: AppDeps): Promise<Record<string, string>> {
  const [database, temporal] = await Promise.all([
    deps.pool.query('select 1').then(
      () => 'ok',
      (e: Error) => `error: ${e.message}`,
    ),
    withinMs(HEALTH_TEMPORAL_TIMEOUT_MS, deps.temporal.connection.workflowService.getSystemInfo({})).then(
      () => 'ok',
      (e: Error) => `error: ${e.message}`,
    ),
  ]);
  return { database, temporal };
}
