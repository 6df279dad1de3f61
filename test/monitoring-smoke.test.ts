import { afterAll, beforeAll, expect, it } from 'vitest';
import { eventually, sealedSecret, startMonitoringHarness, type MonitoringHarness } from './monitoring-harness';

let h: MonitoringHarness;
beforeAll(async () => {
  h = await startMonitoringHarness();
  await h.platform.startCoreWorker({ monitoring: { evaluateEveryMs: 1000 } });
  await h.addGuest(100);
  await h.schedules({ collectEveryMs: 1000, evaluateEveryMs: 1000 });
});
afterAll(async () => h?.close());

it('fires and resolves', { timeout: 120_000 }, async () => {
  const guest = await h.guestResource(100);
  const ruleId = await h.createRule({ name: 'cpu', forSeconds: 3, webhookUrl: h.webhook.url, webhookSecretSealed: sealedSecret(h.webhook.secret) });
  await h.load.set(100, { cpu: 0.95 });
  await eventually('firing webhook', async () => h.webhook.deliveries.find((d) => d.event === 'alert.firing'));
  await h.load.set(100, { cpu: 0.1 });
  await eventually('resolved webhook', async () => h.webhook.deliveries.find((d) => d.event === 'alert.resolved'));
  console.log(h.webhook.deliveries.map((d) => [d.event, d.signatureOk, d.body.alert.summary]));
  console.log(await h.alertsOf(ruleId), guest);
  expect(h.webhook.deliveries).toHaveLength(2);
});
