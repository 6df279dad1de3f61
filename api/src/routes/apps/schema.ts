import { z } from '@hono/zod-openapi';
import { RELEASE_STATUSES, RELEASE_TRIGGERS, DELIVERY_OUTCOMES, WEBHOOK_PROVIDERS } from '@keelson/db/schema';
import { ResourceName } from '../../schemas';
import { EnvVars } from '../../services/operations';

/** A path inside the repository: relative, no `..` segments. */
const RepoPath = z
  .string()
  .min(1)
  .max(500)
  .refine((p) => !p.startsWith('/') && !p.split('/').includes('..'), 'a path inside the repository (relative, no "..")');

const HealthCheckSchema = z
  .object({
    path: z.string().regex(/^\/[^\s]*$/, 'an HTTP path starting with /').max(500).default('/'),
    expectedStatus: z.number().int().min(100).max(599).default(200),
    timeoutSeconds: z.number().int().min(1).max(3600).default(60),
    passes: z.number().int().min(1).max(100).default(3),
  })
  .openapi('HealthCheck');

/** Repository URLs simple-git can clone: a remote (https, ssh, git) or a path on the node. */
const RepoUrl = z
  .string()
  .min(1)
  .max(1000)
  .regex(/^(https?:\/\/|ssh:\/\/|git:\/\/|file:\/\/|[\w.-]+@[\w.-]+:|\/)\S+$/, 'a git URL (https://, ssh://, git@host:repo) or an absolute path');

export const Hostname = z
  .string()
  .max(253)
  .regex(/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'a lowercase DNS hostname like app.example.com');

const Branch = z
  .string()
  .min(1)
  .max(255)
  .regex(/^(?!\/|.*\.\.|.*\/$)[\w./-]+$/, 'a branch name like main or release/1.2');

const fields = {
  name: ResourceName,
  repoUrl: RepoUrl,
  branch: Branch.default('main'),
  dockerfilePath: RepoPath.default('Dockerfile'),
  buildContext: RepoPath.default('.'),
  containerPort: z.number().int().min(1).max(65535),
  healthCheck: HealthCheckSchema.default({ path: '/', expectedStatus: 200, timeoutSeconds: 60, passes: 3 }),
  nodeId: z.uuid({ error: 'must be a node id (UUID)' }),
  hostname: Hostname,
  requireApproval: z.boolean().default(false),
  approvalTimeoutSeconds: z.number().int().min(60).max(7 * 86_400).default(3600),
  watchSeconds: z.number().int().min(0).max(3600).default(30),
  drainSeconds: z.number().int().min(0).max(3600).default(10),
};

export const AppBody = z.object({ ...fields, env: EnvVars.default({}) }).openapi('AppInput');

/** Partial update: fields left out keep their value; `env`, when given, replaces the environment. */
export const AppPatch = z
  .object({
    name: fields.name,
    repoUrl: fields.repoUrl,
    branch: Branch,
    dockerfilePath: RepoPath,
    buildContext: RepoPath,
    containerPort: fields.containerPort,
    healthCheck: HealthCheckSchema,
    nodeId: fields.nodeId,
    hostname: fields.hostname,
    requireApproval: z.boolean(),
    approvalTimeoutSeconds: fields.approvalTimeoutSeconds.unwrap(),
    watchSeconds: fields.watchSeconds.unwrap(),
    drainSeconds: fields.drainSeconds.unwrap(),
    env: EnvVars,
  })
  .partial()
  .refine((p) => Object.keys(p).length > 0, 'nothing to change')
  .openapi('AppPatch');

const ReleaseSummarySchema = z
  .object({
    id: z.string(),
    status: z.enum(RELEASE_STATUSES),
    commitSha: z.string().nullable(),
    commitMessage: z.string().nullable(),
    createdAt: z.string(),
    startedAt: z.string().nullable(),
    finishedAt: z.string().nullable(),
  })
  .openapi('ReleaseSummary');

export const AppSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    repoUrl: z.string(),
    branch: z.string(),
    dockerfilePath: z.string(),
    buildContext: z.string(),
    containerPort: z.number(),
    healthCheck: z.object({ path: z.string(), expectedStatus: z.number(), timeoutSeconds: z.number(), passes: z.number() }),
    nodeId: z.string(),
    hostname: z.string(),
    requireApproval: z.boolean(),
    approvalTimeoutSeconds: z.number(),
    watchSeconds: z.number(),
    drainSeconds: z.number(),
    envKeys: z.array(z.string()),
    currentReleaseId: z.string().nullable(),
    currentRelease: ReleaseSummarySchema.nullable(),
    latestRelease: ReleaseSummarySchema.nullable(),
    deployerWorkflowId: z.string(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('App');

export const CreatedAppSchema = AppSchema.extend({
  webhookSecret: z.string().openapi({ description: 'Shown once: the secret for GitHub/GitLab push webhooks' }),
}).openapi('CreatedApp');

export const ReleaseSchema = z
  .object({
    id: z.string(),
    appId: z.string(),
    trigger: z.enum(RELEASE_TRIGGERS),
    status: z.enum(RELEASE_STATUSES),
    commitSha: z.string().nullable(),
    commitMessage: z.string().nullable(),
    image: z.string().nullable(),
    sourceReleaseId: z.string().nullable(),
    deliveryId: z.string().nullable(),
    workflowId: z.string(),
    upstream: z.string().nullable(),
    actor: z.string(),
    error: z.string().nullable(),
    timings: z.record(z.string(), z.number()),
    createdAt: z.string(),
    startedAt: z.string().nullable(),
    switchedAt: z.string().nullable(),
    finishedAt: z.string().nullable(),
  })
  .openapi('Release');

export const DeliverySchema = z
  .object({
    id: z.string(),
    provider: z.enum(WEBHOOK_PROVIDERS),
    externalId: z.string().nullable(),
    event: z.string().nullable(),
    ref: z.string().nullable(),
    commitSha: z.string().nullable(),
    outcome: z.enum(DELIVERY_OUTCOMES),
    reason: z.string().nullable(),
    releaseId: z.string().nullable(),
    receivedAt: z.string(),
  })
  .openapi('WebhookDelivery');

export const DeployBody = z
  .object({ commit: z.string().regex(/^[0-9a-f]{7,40}$/, 'a commit id (hex)').optional().openapi({ description: 'Defaults to the head of the app branch' }) })
  .openapi('DeployRequest');

export const RollbackBody = z.object({ releaseId: z.uuid({ error: 'must be a release id (UUID)' }) }).openapi('RollbackRequest');

export const QueuedDeploySchema = z
  .object({ releaseId: z.string(), workflowId: z.string(), operation: z.string() })
  .openapi('QueuedDeploy', { description: 'The release is queued; its run starts when the deploys before it are done' });

export const AppListSchema = z.object({ items: z.array(AppSchema) }).openapi('AppList');
export const ReleaseListSchema = z.object({ items: z.array(ReleaseSchema) }).openapi('ReleaseList');
export const DeliveryListSchema = z.object({ items: z.array(DeliverySchema) }).openapi('WebhookDeliveryList');
export const WebhookSecretSchema = z.object({ webhookSecret: z.string() }).openapi('WebhookSecret');
