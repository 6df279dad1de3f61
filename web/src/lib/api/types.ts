/**
 * The API's response shapes, as the web app uses them. Run shapes are the API's own types;
 * the rest mirror the API's zod schemas (api/src/routes/<resource>/schema.ts, served as
 * /api/openapi.json) — keep those in step.
 */

export interface User {
  id: string;
  email: string;
  name: string;
}

export interface Organization {
  id: string;
  slug: string;
  name: string;
}

/** `POST /api/auth/login`. */
export interface SignedIn {
  user: User;
  organization: Organization;
  role: string;
  permissions: string[];
  csrfToken: string;
  twoFactorRequired: boolean;
}

/** `GET /api/auth/me`: also answers for API keys, where `user` and `csrfToken` are null. */
export interface Me {
  user: User | null;
  organization: Organization;
  role: string | null;
  permissions: string[];
  csrfToken: string | null;
}

// Run shapes come from the API itself (type-only: nothing of the API is bundled).
import type { RunStatus } from '@keelson/common/constants';
import type { RunSummary } from '../../../../api/src/services/runs-service';
import type { RunStep } from '../../../../api/src/services/run-history';

export { RUN_STATUSES } from '@keelson/common/constants';
export type { RunStatus, RunStep, RunSummary };
export type { RunDetail } from '../../../../api/src/services/runs-service';
export type { RunError, StepState } from '../../../../api/src/services/run-history';
export type { ApprovalDecision } from '@keelson/common/approval';

export interface RunList {
  items: RunSummary[];
  nextPageToken: string | null;
}

export interface StartedRun {
  workflowId: string;
  runId: string;
  operation: string;
}

export interface Operation {
  name: string;
  permission: string;
  inputSchema: unknown;
}

/** The `data` of the run stream's events (`GET /api/runs/{id}/stream`). */
export interface RunLogChunk {
  id: number;
  runId: string;
  activityId: string | null;
  attempt: number | null;
  stream: 'stdout' | 'stderr' | 'system';
  data: string;
  at: string;
}

export interface HistoryBatch {
  events: Array<{ eventId: number; eventType: string; time: string | null }>;
}

export interface StepsSnapshot {
  steps: RunStep[];
  closed: boolean;
}

export interface RunEnd {
  status: RunStatus;
  runId: string;
}

export interface NodeCapacity {
  cpus: number;
  memoryBytes: number;
  containersRunning: number;
  serverVersion: string;
}

export interface KeelsonNode {
  id: string;
  name: string;
  kind: string;
  endpoint: string;
  status: 'pending' | 'online' | 'offline';
  capacity: NodeCapacity | null;
  lastSeenAt: string | null;
  taskQueue: string;
  createdAt: string;
}

export interface PortMapping {
  container: number;
  host: number;
  protocol: 'tcp' | 'udp';
}

export interface Blueprint {
  id: string;
  name: string;
  description: string;
  image: string;
  command: string[];
  ports: PortMapping[];
  volumes: Array<{ source: string; target: string; readOnly: boolean }>;
  envKeys: string[];
  cpuLimit: number | null;
  memoryLimitMb: number | null;
  createdAt: string;
  updatedAt: string;
}

export type ContainerState = 'creating' | 'running' | 'stopped' | 'failed' | 'removing' | 'removed';

export interface Container {
  id: string;
  name: string;
  nodeId: string;
  blueprintId: string | null;
  image: string;
  command: string[];
  ports: PortMapping[];
  state: ContainerState;
  lastError: string | null;
  createdAt: string;
  updatedAt: string;
}

export type ContainerAction = 'start' | 'stop' | 'restart';

export interface Items<T> {
  items: T[];
}

// Administration: members, API keys and the audit log (api/src/routes/{members,api-keys,audit}).
import type { Permission, Role } from '@keelson/common/permissions';

export { PERMISSIONS, ROLES } from '@keelson/common/permissions';
export type { Permission, Role };

export interface Member {
  userId: string;
  email: string;
  name: string;
  role: Role;
  joinedAt: string;
}

export interface ApiKey {
  id: string;
  name: string;
  /** The public part of the key (`kls_<prefix>_…`), for recognizing it. */
  prefix: string;
  scopes: Permission[];
  expiresAt: string | null;
  lastUsedAt: string | null;
  revokedAt: string | null;
  createdAt: string;
}

/** `POST /api/api-keys`: `key` is the full secret, in this answer only. */
export interface CreatedApiKey {
  key: string;
  apiKey: ApiKey;
}

export interface AuditEntry {
  id: number;
  actorType: string;
  actorId: string | null;
  action: string;
  resourceType: string;
  resourceId: string | null;
  ip: string | null;
  userAgent: string | null;
  details: Record<string, unknown>;
  createdAt: string;
}

export interface AuditPage {
  items: AuditEntry[];
  /** Pass as `cursor` for the next page; null on the last page. */
  nextCursor: string | null;
}

// Apps deployed from git, their releases and webhook deliveries: the API's own shapes
// (api/src/services/apps-service.ts, type-only like the run shapes above).
import type { AppInput as ApiAppInput, listDeliveries, presentApp, presentRelease } from '../../../../api/src/services/apps-service';
import type { DeliveryOutcome, ReleaseStatus, ReleaseTimings } from '../../../../db/schema/apps';

export type { DeliveryOutcome, ReleaseStatus, ReleaseTimings };

export type App = ReturnType<typeof presentApp>;
/** `POST /api/apps`: `webhookSecret` is in this answer only. */
export type CreatedApp = App & { webhookSecret: string };
export type Release = ReturnType<typeof presentRelease>;
export type ReleaseTrigger = Release['trigger'];
export type WebhookDelivery = Awaited<ReturnType<typeof listDeliveries>>[number];
/** `POST /api/apps`'s body; `env` is write-only (the API answers with `envKeys`). */
export type AppInput = ApiAppInput & { env: Record<string, string> };
export type HealthCheck = AppInput['healthCheck'];

/** `POST /api/apps/{id}/deploys` and `/rollback`: the release is queued behind any running deploy. */
export interface QueuedDeploy {
  releaseId: string;
  workflowId: string;
  operation: string;
}

// Proxmox clusters and their guests (VMs and containers): the API's own shapes
// (api/src/services/proxmox-*.ts, type-only like the run shapes above).
import type { ClusterInput, presentCluster } from '../../../../api/src/services/proxmox-clusters-service';
import type { presentGuest } from '../../../../api/src/services/proxmox-guests-service';
import type { ProvisionGuestInput } from '../../../../api/src/services/proxmox-inputs';
import type { GuestKindName, GuestState } from '../../../../db/schema/proxmox';

export type { GuestKindName, GuestState };

/** The token secret is write-only: never in an answer. */
export type ProxmoxCluster = ReturnType<typeof presentCluster>;
/** `POST /api/proxmox/clusters`: what the connection check saw, in this answer only. */
export type CreatedProxmoxCluster = ProxmoxCluster & { version: string; presentedFingerprint: string };
/** `POST /api/proxmox/clusters`'s body. */
export type ProxmoxClusterInput = ClusterInput;
/** `PATCH /api/proxmox/clusters/{id}`: `null` clears an optional setting; no `tokenSecret` keeps the stored one. */
export type ProxmoxClusterPatch = Partial<ClusterInput>;
export type Guest = ReturnType<typeof presentGuest>;
export type GuestBackupSchedule = NonNullable<Guest['backupSchedule']>;
/** `POST /api/proxmox/guests`'s body, as the form sends it (every default spelled out). */
export type ProvisionGuestBody = ProvisionGuestInput & { kind: GuestKindName };
export type GuestPowerAction = 'start' | 'stop' | 'shutdown' | 'reboot';
export type GuestBackupMode = 'snapshot' | 'suspend' | 'stop';

/** `POST /api/proxmox/guests`: recorded as `provisioning`; the run records the outcome. */
export interface ProvisionedGuest {
  guest: Guest;
  run: StartedRun;
}
