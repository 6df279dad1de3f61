/**
 * The API's response shapes, as the web app uses them. The source of truth is the API's zod
 * schemas (api/src/routes/<resource>/schema.ts, served as /api/openapi.json); keep these in step.
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

export const RUN_STATUSES = ['Running', 'Completed', 'Failed', 'Canceled', 'Terminated', 'ContinuedAsNew', 'TimedOut'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number] | 'Unknown';

export interface RunSummary {
  workflowId: string;
  runId: string;
  operation: string | null;
  workflowType: string;
  status: RunStatus;
  startedAt: string | null;
  closedAt: string | null;
  durationMs: number | null;
  resources: string[];
  actor: string | null;
}

export interface RunList {
  items: RunSummary[];
  nextPageToken: string | null;
}

/** An error and its cause chain. */
export interface RunError {
  message: string;
  type: string | null;
  nonRetryable: boolean;
  cause: RunError | null;
}

export type StepState = 'scheduled' | 'running' | 'retrying' | 'completed' | 'failed' | 'timed_out' | 'canceled' | 'waiting';

export interface RunStep {
  id: string;
  kind: 'activity' | 'timer' | 'signal' | 'update' | 'child';
  name: string;
  state: StepState | (string & {});
  attempts: number;
  scheduledAt: string | null;
  startedAt: string | null;
  endedAt: string | null;
  taskQueue: string | null;
  input?: unknown;
  output?: unknown;
  error: RunError | null;
  /** When the next attempt (or the timer) is due. */
  nextAt: string | null;
}

export interface RunDetail extends RunSummary {
  taskQueue: string | null;
  historyLength: number;
  input?: unknown;
  result?: unknown;
  error: RunError | null;
  steps: RunStep[];
  waitingFor: Array<{ kind: 'retry' | 'timer'; step: string; until: string | null }>;
  payloadsVisible: boolean;
  temporalUiUrl: string;
  actions: { cancel: boolean; terminate: boolean; retry: boolean; rerun: boolean };
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
