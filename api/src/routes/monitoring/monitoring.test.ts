import { WorkflowId } from '@keelson/common/constants';
import { alerts, auditLog, monitoredResources } from '@keelson/db/schema';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { createTestPlatform, type SignedIn, type TestPlatform } from '../../../../test/platform';
import { AlertDetailSchema, AlertSchema, RuleSchema, SilenceSchema, WindowSchema } from './schema';

/**
 * /api/monitoring's changes: who may make them (operators and up; a viewer reads and gets 403 on
 * every change, acknowledging included), what a bad body gets (400 naming the field), and that
 * silences and maintenance windows can be changed after they are made.
 */
describe('/api/monitoring rules, silences and maintenance windows', () => {
  let p: TestPlatform;
  let operator: SignedIn;
  let viewer: SignedIn;
  let billing: SignedIn;
  let otherAdmin: SignedIn;
  let resourceId: string;

  beforeAll(async () => {
    p = await createTestPlatform();
    const tenant = await p.createTenant();
    operator = await p.signIn({ tenantId: tenant.id, role: 'operator' });
    viewer = await p.signIn({ tenantId: tenant.id, role: 'viewer' });
    billing = await p.signIn({ tenantId: tenant.id, role: 'billing' });
    otherAdmin = await p.signIn({ tenantId: (await p.createTenant()).id, role: 'admin' });
    const [row] = await p.db
      .insert(monitoredResources)
      .values({ tenantId: tenant.id, kind: 'guest', key: `c/${randomUUID()}`, name: 'web-1', status: 'running', lastValues: { cpuPercent: 12 }, lastSampleAt: new Date() })
      .returning({ id: monitoredResources.id });
    resourceId = row!.id;
  });
  afterAll(async () => {
    await p?.close();
  });

  const call = (who: SignedIn, method: string, path: string, body?: unknown) => p.request(`/api/monitoring${path}`, { method, headers: who.headers, body });
  const ruleBody = () => ({ name: 'CPU high', metric: 'cpu_percent', scope: { type: 'resource', resourceId }, comparison: '>', threshold: 90, clearThreshold: 70, forSeconds: 120, severity: 'critical', emails: ['oncall@hoster.test'], noData: 'ignore' });
  const hour = (h: number) => new Date(Date.now() + h * 3600_000).toISOString();

  it('an operator creates, changes and deletes rules, silences and windows; a viewer reads them and may change none', async () => {
    const created = await call(operator, 'POST', '/rules', ruleBody());
    expect(created.status).toBe(201);
    const rule = RuleSchema.parse(await created.json());
    const updated = await call(operator, 'PUT', `/rules/${rule.id}`, { ...ruleBody(), threshold: 95, enabled: false });
    expect(updated.status).toBe(200);
    expect(RuleSchema.parse(await updated.json())).toMatchObject({ threshold: 95, enabled: false, clearThreshold: 70 });

    const silenceRes = await call(operator, 'POST', '/silences', { matchers: { ruleId: rule.id }, endsAt: hour(1), comment: 'disk swap' });
    expect(silenceRes.status).toBe(201);
    const silence = SilenceSchema.parse(await silenceRes.json());
    const until = hour(2);
    const silenceChanged = await call(operator, 'PUT', `/silences/${silence.id}`, { matchers: { ruleId: rule.id, severity: 'critical' }, endsAt: until, comment: 'disk swap, longer' });
    expect(silenceChanged.status).toBe(200);
    expect(SilenceSchema.parse(await silenceChanged.json())).toMatchObject({ id: silence.id, matchers: { ruleId: rule.id, severity: 'critical' }, endsAt: until, comment: 'disk swap, longer', active: true });

    const windowRes = await call(operator, 'POST', '/maintenance-windows', { name: 'Patch night', scope: { type: 'resource', resourceId }, startsAt: hour(24), endsAt: hour(26), repeatWeekly: true });
    expect(windowRes.status).toBe(201);
    const window = WindowSchema.parse(await windowRes.json());
    const windowChanged = await call(operator, 'PUT', `/maintenance-windows/${window.id}`, { name: 'Patch night (late)', scope: { type: 'all' }, startsAt: hour(25), endsAt: hour(27), repeatWeekly: false });
    expect(windowChanged.status).toBe(200);
    expect(WindowSchema.parse(await windowChanged.json())).toMatchObject({ id: window.id, name: 'Patch night (late)', scope: { type: 'all' }, repeatWeekly: false });

    // A viewer sees all of it…
    for (const path of ['/rules', '/silences', '/maintenance-windows', '/alerts', `/rules/${rule.id}`]) expect((await call(viewer, 'GET', path)).status, path).toBe(200);
    // …and changes nothing.
    const forbidden: Array<[string, string, unknown?]> = [
      ['POST', '/rules', ruleBody()],
      ['PUT', `/rules/${rule.id}`, ruleBody()],
      ['DELETE', `/rules/${rule.id}`],
      ['POST', '/silences', { matchers: { ruleId: rule.id }, endsAt: hour(1) }],
      ['PUT', `/silences/${silence.id}`, { matchers: { ruleId: rule.id }, endsAt: hour(1) }],
      ['DELETE', `/silences/${silence.id}`],
      ['POST', '/maintenance-windows', { name: 'x', scope: { type: 'all' }, startsAt: hour(1), endsAt: hour(2) }],
      ['PUT', `/maintenance-windows/${window.id}`, { name: 'x', scope: { type: 'all' }, startsAt: hour(1), endsAt: hour(2) }],
      ['DELETE', `/maintenance-windows/${window.id}`],
      ['POST', `/alerts/${randomUUID()}/acknowledge`, { comment: 'mine' }],
    ];
    for (const [method, path, body] of forbidden) {
      const res = await call(viewer, method, path, body);
      expect(res.status, `${method} ${path}`).toBe(403);
    }
    // Billing people do not see monitoring at all.
    expect((await call(billing, 'GET', '/rules')).status).toBe(403);
    // Another organization's ids are not found, not changed.
    expect((await call(otherAdmin, 'PUT', `/silences/${silence.id}`, { matchers: { severity: 'info' }, endsAt: hour(1) })).status).toBe(404);
    expect((await call(otherAdmin, 'PUT', `/maintenance-windows/${window.id}`, { name: 'x', scope: { type: 'all' }, startsAt: hour(1), endsAt: hour(2) })).status).toBe(404);
    expect((await call(otherAdmin, 'DELETE', `/rules/${rule.id}`)).status).toBe(404);

    // Nothing the viewer tried took effect; the operator's deletions do.
    expect(RuleSchema.parse(await (await call(viewer, 'GET', `/rules/${rule.id}`)).json()).threshold).toBe(95);
    expect((await call(operator, 'DELETE', `/silences/${silence.id}`)).status).toBe(204);
    expect((await call(operator, 'DELETE', `/maintenance-windows/${window.id}`)).status).toBe(204);
    expect((await call(operator, 'DELETE', `/rules/${rule.id}`)).status).toBe(204);
    expect((await call(operator, 'GET', `/rules/${rule.id}`)).status).toBe(404);
  });

  it('acknowledges a Terraform drift alert (it has no alert run of its own) once, and shows who did by name', async () => {
    // As the stack's drift check records a finding's alert (the finding's id is the alert's).
    const [drift] = await p.db
      .insert(alerts)
      .values({ id: randomUUID(), tenantId: operator.tenantId, kind: 'drift', workflowId: WorkflowId.terraformDrift(randomUUID()), state: 'firing', severity: 'warning', summary: 'Terraform stack "net" drifted from its state: 1 to change', startedAt: new Date(), firedAt: new Date() })
      .returning();
    expect((await call(otherAdmin, 'POST', `/alerts/${drift!.id}/acknowledge`, { comment: 'mine' })).status).toBe(404);
    const res = await call(operator, 'POST', `/alerts/${drift!.id}/acknowledge`, { comment: 'someone changed the firewall by hand' });
    expect(res.status, await res.clone().text()).toBe(200);
    const acked = AlertDetailSchema.parse(await res.json());
    expect(acked).toMatchObject({ kind: 'drift', state: 'acknowledged', acknowledgedBy: `user:${operator.userId}`, acknowledgedByName: `operator (${operator.email})`, acknowledgeComment: 'someone changed the firewall by hand' });
    expect(acked.acknowledgedAt).not.toBeNull();
    // Once: a second acknowledgement is a conflict and changes nothing.
    const again = await call(operator, 'POST', `/alerts/${drift!.id}/acknowledge`, { comment: 'me too' });
    expect(again.status).toBe(409);
    // The list names the person too; the audit log has one entry.
    const listed = (await (await call(viewer, 'GET', '/alerts')).json()) as { items: unknown[] };
    const row = listed.items.map((a) => AlertSchema.parse(a)).find((a) => a.id === drift!.id);
    expect(row).toMatchObject({ acknowledgedByName: `operator (${operator.email})`, acknowledgeComment: 'someone changed the firewall by hand' });
    const audits = await p.db.select().from(auditLog).where(and(eq(auditLog.resourceId, drift!.id), eq(auditLog.action, 'alert.acknowledge')));
    expect(audits).toHaveLength(1);
  });

  it('a bad body is a 400 naming the field, never a 500', async () => {
    const cases: Array<[string, string, unknown, string]> = [
      ['POST', '/rules', { ...ruleBody(), threshold: 'high' }, 'threshold'],
      ['POST', '/rules', { ...ruleBody(), metric: 'temperature' }, 'metric'],
      ['POST', '/rules', { ...ruleBody(), webhookUrl: 'ftp://hooks.test/x' }, 'webhookUrl'],
      ['POST', '/rules', { ...ruleBody(), emails: ['not an address'] }, 'emails.0'],
      ['POST', '/rules', { ...ruleBody(), scope: { type: 'resource', resourceId: randomUUID() } }, 'scope'],
      ['POST', '/silences', { matchers: {}, endsAt: hour(1) }, 'matchers'],
      ['POST', '/silences', { matchers: { severity: 'critical' }, startsAt: hour(2), endsAt: hour(1) }, 'endsAt'],
      ['POST', '/maintenance-windows', { name: 'w', scope: { type: 'all' }, startsAt: hour(1), endsAt: hour(200), repeatWeekly: true }, 'endsAt'],
      ['POST', '/maintenance-windows', { name: '', scope: { type: 'all' }, startsAt: hour(1), endsAt: hour(2) }, 'name'],
    ];
    for (const [method, path, body, field] of cases) {
      const res = await call(operator, method, path, body);
      const text = await res.text();
      expect(res.status, `${method} ${path} ${JSON.stringify(body)}: ${text}`).toBe(400);
      expect(text, `${method} ${path}`).toContain(field);
    }
  });

  it('/metrics counts API requests by route pattern, never by raw path', async () => {
    const rule = RuleSchema.parse(await (await call(operator, 'POST', '/rules', ruleBody())).json());
    expect((await call(viewer, 'GET', `/rules/${rule.id}`)).status).toBe(200);
    expect((await call(viewer, 'DELETE', `/rules/${rule.id}`)).status).toBe(403);
    const res = await p.request('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    expect(text).toMatch(/keelson_http_request_duration_seconds_count\{method="GET",route="\/api\/monitoring\/rules\/:id",status="200"\} [1-9]/);
    expect(text).toMatch(/keelson_http_request_duration_seconds_count\{method="DELETE",route="\/api\/monitoring\/rules\/:id",status="403"\} [1-9]/);
    expect(text).not.toContain(rule.id);
    expect(text).toContain('keelson_runs_started_total');
  });
});
