import { decryptSecret, encryptSecret } from '@keelson/common/codec';
import { isMaskedUrl, maskUrl, splitUrlCredentials } from '@keelson/common/credentials';
import { AppOperation, WorkflowId, WorkflowType } from '@keelson/common/constants';
import { runSearchAttributes } from '@keelson/common/search-attributes';
import { writeAudit, type Executor } from '@keelson/db';
import { apps, nodes, releases, webhookDeliveries, type HealthCheck } from '@keelson/db/schema';
import { and, desc, eq, inArray, sql } from 'drizzle-orm';
import { randomBytes, randomUUID } from 'node:crypto';
import type { AppDeployerInput, DeployRequest } from '../../../workflows/app-deployer';
import { ConflictError, NotFoundError, ValidationError } from '../errors';
import { auditActor, type ServiceContext } from './context';

export interface AppInput {
  name: string;
  repoUrl: string;
  branch: string;
  dockerfilePath: string;
  buildContext: string;
  containerPort: number;
  healthCheck: HealthCheck;
  nodeId: string;
  hostname: string;
  requireApproval: boolean;
  approvalTimeoutSeconds: number;
  watchSeconds: number;
  drainSeconds: number;
}

/** On update, `env` omitted keeps the stored values; given, it replaces them. */
export type AppChanges = Partial<AppInput> & { env?: Record<string, string> };

type AppRow = typeof apps.$inferSelect;
type ReleaseRow = typeof releases.$inferSelect;

/** What the list shows of a release without loading the app's history. */
function releaseSummary(r: ReleaseRow | undefined) {
  if (!r) return null;
  const { id, status, commitSha, commitMessage } = r;
  return { id, status, commitSha, commitMessage, createdAt: r.createdAt.toISOString(), startedAt: r.startedAt?.toISOString() ?? null, finishedAt: r.finishedAt?.toISOString() ?? null };
}

export interface AppReleases {
  current?: ReleaseRow;
  latest?: ReleaseRow;
}

/** Env values and the webhook secret stay encrypted and are never returned. */
export function presentApp(ctx: ServiceContext, a: AppRow, known: AppReleases = {}) {
  return {
    id: a.id,
    name: a.name,
    repoUrl: maskUrl(a.repoUrl, a.repoCredentialsSealed !== null),
    branch: a.branch,
    dockerfilePath: a.dockerfilePath,
    buildContext: a.buildContext,
    containerPort: a.containerPort,
    healthCheck: a.healthCheck,
    nodeId: a.nodeId,
    hostname: a.hostname,
    requireApproval: a.requireApproval,
    approvalTimeoutSeconds: a.approvalTimeoutSeconds,
    watchSeconds: a.watchSeconds,
    drainSeconds: a.drainSeconds,
    envKeys: Object.keys(appEnv(ctx, a)).sort(),
    currentReleaseId: a.currentReleaseId,
    /** The release serving now, and the newest one (which may still be deploying). */
    currentRelease: releaseSummary(known.current),
    latestRelease: releaseSummary(known.latest),
    deployerWorkflowId: WorkflowId.appDeployer(a.id),
    createdAt: a.createdAt.toISOString(),
    updatedAt: a.updatedAt.toISOString(),
  };
}

export function presentRelease(r: ReleaseRow) {
  return {
    id: r.id,
    appId: r.appId,
    trigger: r.trigger,
    status: r.status,
    commitSha: r.commitSha,
    commitMessage: r.commitMessage,
    image: r.image,
    sourceReleaseId: r.sourceReleaseId,
    deliveryId: r.deliveryId,
    workflowId: r.workflowId,
    upstream: r.upstream,
    actor: r.actor,
    error: r.error,
    timings: r.timings,
    createdAt: r.createdAt.toISOString(),
    startedAt: r.startedAt?.toISOString() ?? null,
    switchedAt: r.switchedAt?.toISOString() ?? null,
    finishedAt: r.finishedAt?.toISOString() ?? null,
  };
}

function appEnv(ctx: ServiceContext, a: Pick<AppRow, 'envSealed'>): Record<string, string> {
  return a.envSealed ? (JSON.parse(decryptSecret(ctx.deps.keys, a.envSealed)) as Record<string, string>) : {};
}

/**
 * A repository URL as stored: user info split off and sealed (`https://user:TOKEN@host/x.git` is
 * stored as `https://host/x.git` plus the sealed credentials). The masked form a client was shown
 * (`https://****@host/…`) keeps what is stored; ssh URLs carry a user name only, never a password.
 */
function repoFields(ctx: ServiceContext, repoUrl: string, stored: string | null = null): { repoUrl: string; repoCredentialsSealed: string | null } {
  const { url, credentials } = splitUrlCredentials(repoUrl);
  if (isMaskedUrl(repoUrl)) return { repoUrl: url, repoCredentialsSealed: stored };
  if (!credentials) return { repoUrl: url, repoCredentialsSealed: null };
  if (!/^https?:\/\//i.test(url)) {
    if (credentials.password) {
      throw new ValidationError('repoUrl: only http(s) URLs may carry a password or token; use a deploy key for ssh', {
        issues: [{ path: 'repoUrl', message: 'only http(s) URLs may carry a password or token' }],
      });
    }
    return { repoUrl, repoCredentialsSealed: null };
  }
  return { repoUrl: url, repoCredentialsSealed: encryptSecret(ctx.deps.keys, JSON.stringify(credentials)) };
}

const sealEnv = (ctx: ServiceContext, env: Record<string, string>) => (Object.keys(env).length ? encryptSecret(ctx.deps.keys, JSON.stringify(env)) : null);
const newWebhookSecret = () => `whsec_${randomBytes(24).toString('base64url')}`;

export async function listApps(ctx: ServiceContext) {
  const rows = await ctx.deps.db.select().from(apps).where(eq(apps.tenantId, ctx.principal.tenantId)).orderBy(apps.name);
  const known = await releasesOf(ctx, rows);
  return rows.map((a) => presentApp(ctx, a, known.get(a.id)));
}

/** Each app's current and newest release, in two queries whatever the number of apps. */
export async function releasesOf(ctx: ServiceContext, rows: AppRow[]): Promise<Map<string, AppReleases>> {
  const known = new Map<string, AppReleases>(rows.map((a) => [a.id, {}]));
  if (!rows.length) return known;
  const tenant = eq(releases.tenantId, ctx.principal.tenantId);
  const latest = await ctx.deps.db
    .selectDistinctOn([releases.appId])
    .from(releases)
    .where(and(tenant, inArray(releases.appId, rows.map((a) => a.id))))
    .orderBy(releases.appId, desc(releases.createdAt));
  for (const r of latest) known.get(r.appId)!.latest = r;
  const currentIds = rows.flatMap((a) => (a.currentReleaseId ? [a.currentReleaseId] : []));
  if (currentIds.length) {
    for (const r of await ctx.deps.db.select().from(releases).where(and(tenant, inArray(releases.id, currentIds)))) known.get(r.appId)!.current = r;
  }
  return known;
}

export async function requireApp(ctx: ServiceContext, id: string, tx: Executor = ctx.deps.db): Promise<AppRow> {
  const [row] = await tx.select().from(apps).where(and(eq(apps.tenantId, ctx.principal.tenantId), eq(apps.id, id)));
  if (!row) throw new NotFoundError('app');
  return row;
}

async function requireOwnNode(ctx: ServiceContext, tx: Executor, nodeId: string) {
  const [node] = await tx.select({ id: nodes.id }).from(nodes).where(and(eq(nodes.tenantId, ctx.principal.tenantId), eq(nodes.id, nodeId)));
  if (!node) throw new ValidationError('nodeId: no such node in this organization', { issues: [{ path: 'nodeId', message: 'no such node in this organization' }] });
}

/** Unique-constraint violations as the conflict a caller can fix. */
function conflictOnDuplicate(input: { name?: string; hostname?: string }) {
  return (err: { code?: string; constraint?: string; cause?: { code?: string; constraint?: string } }) => {
    const code = err.code ?? err.cause?.code;
    const constraint = err.constraint ?? err.cause?.constraint ?? '';
    if (code === '23505' && constraint.includes('hostname')) throw new ConflictError(`hostname ${input.hostname} is already served by another app`);
    if (code === '23505') throw new ConflictError(`an app named "${input.name}" already exists`);
    throw err;
  };
}

/** Creates the app; the webhook secret is returned this once (rotate it to see a new one). */
export async function createApp(ctx: ServiceContext, input: AppInput & { env: Record<string, string> }) {
  return ctx.deps.db.transaction(async (tx) => {
    await requireOwnNode(ctx, tx, input.nodeId);
    const webhookSecret = newWebhookSecret();
    const { env, ...fields } = input;
    const [row] = await tx
      .insert(apps)
      .values({
        tenantId: ctx.principal.tenantId,
        ...fields,
        ...repoFields(ctx, input.repoUrl),
        envSealed: sealEnv(ctx, env),
        webhookSecretSealed: encryptSecret(ctx.deps.keys, webhookSecret),
      })
      .returning()
      .catch(conflictOnDuplicate(input));
    await writeAudit(tx, { ...auditActor(ctx), action: 'app.create', resourceType: 'app', resourceId: row!.id, details: { name: input.name, hostname: input.hostname } });
    return { ...presentApp(ctx, row!), webhookSecret };
  });
}

export async function updateApp(ctx: ServiceContext, id: string, changes: AppChanges) {
  return ctx.deps.db.transaction(async (tx) => {
    const current = await requireApp(ctx, id, tx);
    if (changes.nodeId) await requireOwnNode(ctx, tx, changes.nodeId);
    const { env, ...fields } = changes;
    const repo = changes.repoUrl === undefined ? {} : repoFields(ctx, changes.repoUrl, current.repoCredentialsSealed);
    const [row] = await tx
      .update(apps)
      .set({ ...fields, ...repo, ...(env ? { envSealed: sealEnv(ctx, env) } : {}), updatedAt: sql`now()` })
      .where(and(eq(apps.tenantId, ctx.principal.tenantId), eq(apps.id, id)))
      .returning()
      .catch(conflictOnDuplicate(changes));
    await writeAudit(tx, {
      ...auditActor(ctx),
      action: 'app.update',
      resourceType: 'app',
      resourceId: id,
      details: { changed: Object.keys(changes).sort() },
    });
    return presentApp(ctx, row!);
  });
}

export async function rotateWebhookSecret(ctx: ServiceContext, id: string) {
  return ctx.deps.db.transaction(async (tx) => {
    await requireApp(ctx, id, tx);
    const webhookSecret = newWebhookSecret();
    await tx.update(apps).set({ webhookSecretSealed: encryptSecret(ctx.deps.keys, webhookSecret), updatedAt: sql`now()` }).where(eq(apps.id, id));
    await writeAudit(tx, { ...auditActor(ctx), action: 'app.webhook_secret.rotate', resourceType: 'app', resourceId: id });
    return { webhookSecret };
  });
}

export function webhookSecretOf(ctx: Pick<ServiceContext, 'deps'>, app: Pick<AppRow, 'webhookSecretSealed'>): string {
  return decryptSecret(ctx.deps.keys, app.webhookSecretSealed);
}

export async function listReleases(ctx: ServiceContext, appId: string, limit = 50) {
  await requireApp(ctx, appId);
  const rows = await ctx.deps.db
    .select()
    .from(releases)
    .where(and(eq(releases.tenantId, ctx.principal.tenantId), eq(releases.appId, appId)))
    .orderBy(desc(releases.createdAt))
    .limit(limit);
  return rows.map(presentRelease);
}

export async function listDeliveries(ctx: ServiceContext, appId: string, limit = 50) {
  await requireApp(ctx, appId);
  const rows = await ctx.deps.db
    .select()
    .from(webhookDeliveries)
    .where(and(eq(webhookDeliveries.tenantId, ctx.principal.tenantId), eq(webhookDeliveries.appId, appId)))
    .orderBy(desc(webhookDeliveries.receivedAt))
    .limit(limit);
  return rows.map((d) => ({
    id: d.id,
    provider: d.provider,
    externalId: d.externalId,
    event: d.event,
    ref: d.ref,
    commitSha: d.commitSha,
    outcome: d.outcome,
    reason: d.reason,
    releaseId: d.releaseId,
    receivedAt: d.receivedAt.toISOString(),
  }));
}

export interface DeployAsk {
  trigger: 'push' | 'manual' | 'rollback';
  commit?: string | null;
  sourceReleaseId?: string;
  deliveryId?: string;
}

/**
 * Records a queued release and hands it to the app's deployer (signal-with-start, so the first
 * request starts it and later ones join its queue). The release row is written first: if the
 * hand-over fails, the release is marked failed and the error surfaces to the caller.
 */
export async function requestDeploy(ctx: ServiceContext, app: Pick<AppRow, 'id' | 'name'>, ask: DeployAsk) {
  const releaseId = randomUUID();
  const workflowId = WorkflowId.deployRelease(app.id, releaseId);
  const operation = ask.trigger === 'rollback' ? AppOperation.rollback : AppOperation.deploy;
  await ctx.deps.db.transaction(async (tx) => {
    await tx.insert(releases).values({
      id: releaseId,
      tenantId: ctx.principal.tenantId,
      appId: app.id,
      trigger: ask.trigger,
      commitSha: ask.commit ?? null,
      sourceReleaseId: ask.sourceReleaseId ?? null,
      deliveryId: ask.deliveryId ?? null,
      workflowId,
      actor: ctx.principal.actor,
    });
    await writeAudit(tx, {
      ...auditActor(ctx),
      action: `app.${ask.trigger === 'rollback' ? 'rollback' : 'deploy'}`,
      resourceType: 'app',
      resourceId: app.id,
      details: { releaseId, commit: ask.commit ?? null, sourceReleaseId: ask.sourceReleaseId ?? null, trigger: ask.trigger },
    });
  });

  const request: DeployRequest = { releaseId, operation, actor: ctx.principal.actor };
  const deployer: AppDeployerInput = { tenantId: ctx.principal.tenantId, actor: ctx.principal.actor, appId: app.id };
  try {
    await ctx.deps.temporal.workflow.signalWithStart(WorkflowType.appDeployer, {
      taskQueue: ctx.deps.config.coreTaskQueue,
      workflowId: WorkflowId.appDeployer(app.id),
      args: [deployer],
      signal: 'deploy',
      signalArgs: [request],
      typedSearchAttributes: runSearchAttributes({ tenantId: ctx.principal.tenantId, operation: AppOperation.deployer, resources: [`app:${app.id}`], actor: ctx.principal.actor }),
    });
  } catch (err) {
    await ctx.deps.db
      .update(releases)
      .set({ status: 'failed', error: `could not queue the deploy: ${(err as Error).message}`, finishedAt: sql`now()` })
      .where(eq(releases.id, releaseId));
    throw err;
  }
  return { releaseId, workflowId, operation };
}

export async function deployApp(ctx: ServiceContext, appId: string, commit: string | null) {
  const app = await requireApp(ctx, appId);
  return requestDeploy(ctx, app, { trigger: 'manual', commit });
}

/** Rolls back to an earlier release that served, reusing its image. */
export async function rollbackApp(ctx: ServiceContext, appId: string, releaseId: string) {
  const app = await requireApp(ctx, appId);
  const [target] = await ctx.deps.db
    .select()
    .from(releases)
    .where(and(eq(releases.tenantId, ctx.principal.tenantId), eq(releases.appId, appId), eq(releases.id, releaseId)));
  if (!target) throw new NotFoundError('release');
  // A release that served and held: live or retired, not one that was switched back from.
  if (!target.image || (target.status !== 'retired' && target.status !== 'live')) {
    throw new ConflictError(`release ${releaseId} is ${target.status}: only a release that served successfully can be rolled back to`);
  }
  if (app.currentReleaseId === releaseId) throw new ConflictError(`release ${releaseId} is already serving`);
  return requestDeploy(ctx, app, { trigger: 'rollback', commit: target.commitSha, sourceReleaseId: target.id });
}
