import { decryptSecret, encryptSecret, type KeyRing } from '@keelson/common/codec';
import type { Database } from '@keelson/db';
import { alerts, terraformDriftFindings, terraformRuns, terraformStacks, type TerraformApplyAttempt, type TerraformRunState } from '@keelson/db/schema';
import { WorkflowId } from '@keelson/common/constants';
import { ApplicationFailure, Context, heartbeat } from '@temporalio/activity';
import { and, eq, inArray, sql } from 'drizzle-orm';
import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { isAbsolute, join, normalize } from 'node:path';
import { simpleGit } from 'simple-git';
import type { RunLog, RunLogWriter } from '../db/run-log';
import type { ProxmoxClusterDirectory } from '../proxmox/types';
import { planDiff, type PlanDiff } from './plan-diff';
import { applyArgs, initArgs, outputJsonArgs, planArgs, prepareWorkspace, processRunning, readTofuOutput, redact, runTofu, showJsonArgs, type TofuConfig, type TofuOutputFiles, type TofuResult, type TofuWorkspace } from './tofu';

export interface TerraformActivityDeps {
  db: Database;
  keys: KeyRing;
  runLog: RunLog;
  clusters: ProxmoxClusterDirectory;
  /** `tofu` and where state lives (the pg backend's database). */
  tofu: Omit<TofuConfig, 'env'>;
  /** Keelson's own modules (infra/terraform). */
  modulesDir: string;
  /** Scratch space for working directories (removed after each command group). */
  workDir: string;
  /** How long a retried apply waits for a dead attempt's state lock to be released (default 10 min). */
  lockGraceMs?: number;
}

export interface PlanResult {
  hasChanges: boolean;
  summary: PlanDiff['summary'];
}

export type ApplyOutcome = 'applied' | 'stale' | 'recovered';

type StackRow = typeof terraformStacks.$inferSelect;
type RunRow = typeof terraformRuns.$inferSelect;
type Outputs = Record<string, { value: unknown; sensitive: boolean }>;

const HEARTBEAT_MS = 5_000;

/** What a drift plan would do to bring the infrastructure back to the configuration. */
const driftSummary = (s: PlanDiff['summary']) =>
  [s.create && `${s.create} to add`, s.update && `${s.update} to change`, s.replace && `${s.replace} to replace`, s.delete && `${s.delete} to destroy`].filter(Boolean).join(', ') || 'changes';

/** The last lines of a failed command, for the run's error (secrets are already masked). */
function tail(result: TofuResult): string {
  const text = `${result.stderr}\n${result.stdout}`.trim().split('\n').filter((line) => line.trim() !== '');
  return text.slice(-8).join('\n');
}

export function createTerraformActivities(deps: TerraformActivityDeps) {
  const { db, keys } = deps;

  async function load(tenantId: string, runId: string): Promise<{ run: RunRow; stack: StackRow }> {
    const [row] = await db
      .select({ run: terraformRuns, stack: terraformStacks })
      .from(terraformRuns)
      .innerJoin(terraformStacks, eq(terraformStacks.id, terraformRuns.stackId))
      .where(and(eq(terraformRuns.tenantId, tenantId), eq(terraformRuns.id, runId)));
    if (!row) throw ApplicationFailure.nonRetryable(`Terraform run ${runId} is not recorded`, 'TerraformRunNotFound');
    return row;
  }

  async function loadStack(tenantId: string, stackId: string): Promise<StackRow> {
    const [stack] = await db.select().from(terraformStacks).where(and(eq(terraformStacks.tenantId, tenantId), eq(terraformStacks.id, stackId)));
    if (!stack) throw ApplicationFailure.nonRetryable(`Terraform stack ${stackId} is not recorded`, 'TerraformStackNotFound');
    return stack;
  }

  const updateRun = (tenantId: string, runId: string, values: Parameters<ReturnType<typeof db.update<typeof terraformRuns>>['set']>[0]) =>
    db.update(terraformRuns).set(values).where(and(eq(terraformRuns.tenantId, tenantId), eq(terraformRuns.id, runId)));

  /**
   * A fresh working directory for the stack: its module (Keelson's own or a git checkout), the
   * pg backend override, variables unsealed into the environment, provider credentials from the
   * stack's Proxmox cluster (its CA the only one trusted).
   */
  async function workspace(stack: StackRow, label: string): Promise<{ root: string; ws: TofuWorkspace; config: TofuConfig; dispose(): Promise<void> }> {
    const root = join(deps.workDir, `${stack.id}-${label}-${process.pid}-${Date.now()}`);
    await mkdir(root, { recursive: true });
    const dispose = () => rm(root, { recursive: true, force: true });
    try {
      const modulePath = normalize(stack.modulePath);
      if (isAbsolute(modulePath) || modulePath.startsWith('..')) throw ApplicationFailure.nonRetryable(`module path "${stack.modulePath}" must stay inside its source`, 'TerraformModuleInvalid');
      let moduleDir = join(deps.modulesDir, modulePath);
      if (stack.gitUrl) {
        const checkout = join(root, 'source');
        await simpleGit().clone(stack.gitUrl, checkout, ['--depth', '1', ...(stack.gitRef ? ['--branch', stack.gitRef] : [])]);
        moduleDir = join(checkout, modulePath);
      }
      const dir = join(root, 'stack');
      await prepareWorkspace(moduleDir, dir);
      const variables: Record<string, string> = {};
      const secrets: string[] = [];
      for (const [name, stored] of Object.entries(stack.variables)) {
        if ('sealed' in stored) {
          variables[name] = decryptSecret(keys, stored.sealed);
          secrets.push(variables[name]);
        } else variables[name] = stored.value;
      }
      const env: Record<string, string> = {};
      if (stack.proxmoxClusterId) {
        const cluster = await deps.clusters.connect(stack.proxmoxClusterId);
        const ca = join(root, 'proxmox-ca.pem');
        await writeFile(ca, cluster.caPem);
        env.PROXMOX_VE_ENDPOINT = cluster.url;
        env.PROXMOX_VE_API_TOKEN = `${cluster.tokenId}=${cluster.tokenSecret}`;
        env.SSL_CERT_FILE = ca;
        secrets.push(cluster.tokenSecret);
      }
      return { root, ws: { dir, schema: stack.backendSchema, variables, secrets }, config: { ...deps.tofu, env }, dispose };
    } catch (err) {
      await dispose();
      throw err;
    }
  }

  /** Runs tofu with its output in the run's log (and a heartbeat while it runs). */
  async function tofu(writer: RunLogWriter | undefined, config: TofuConfig, ws: TofuWorkspace, args: string[], onSpawn?: (pid: number, output: TofuOutputFiles) => void): Promise<TofuResult> {
    const ctx = Context.current();
    await writer?.write('system', `$ tofu ${args.join(' ')}\n`);
    let written: Promise<void> = Promise.resolve();
    const alive = setInterval(() => heartbeat(), HEARTBEAT_MS);
    try {
      return await runTofu(config, ws, args, {
        signal: ctx.cancellationSignal,
        onSpawn,
        onOutput: (stream, text) => {
          if (writer) written = written.then(() => writer.write(stream, text));
          heartbeat();
        },
      });
    } finally {
      clearInterval(alive);
      await written;
    }
  }

  async function init(writer: RunLogWriter | undefined, config: TofuConfig, ws: TofuWorkspace): Promise<void> {
    const result = await tofu(writer, config, ws, initArgs());
    if (result.code !== 0) throw ApplicationFailure.retryable(`tofu init failed: ${tail(result)}`, 'TofuInitFailed');
  }

  async function outputs(config: TofuConfig, ws: TofuWorkspace): Promise<Outputs> {
    const result = await tofu(undefined, config, ws, outputJsonArgs());
    if (result.code !== 0) throw ApplicationFailure.retryable(`tofu output failed: ${tail(result)}`, 'TofuOutputFailed');
    const parsed = JSON.parse(result.stdout) as Record<string, { value: unknown; sensitive: boolean }>;
    const out: Outputs = {};
    for (const [name, output] of Object.entries(parsed)) {
      out[name] = output.sensitive ? { value: null, sensitive: true } : { value: JSON.parse(redact(JSON.stringify(output.value ?? null), ws.secrets)), sensitive: false };
    }
    return out;
  }

  /**
   * A run that died mid-apply left an attempt record: wait for its tofu (it runs on in its own
   * process group and finishes), show what it printed, then release the state lock if something
   * still holds it.
   */
  async function recover(writer: RunLogWriter, run: RunRow, stack: StackRow, attempt: TerraformApplyAttempt): Promise<void> {
    const pid = attempt.pid === undefined ? 'not started yet' : `tofu pid ${attempt.pid}`;
    await writer.write('system', `An earlier apply of this run (${pid} on ${attempt.host}, started ${attempt.startedAt}) did not report back.\n`);
    const here = attempt.host === hostname();
    if (here && attempt.pid !== undefined && processRunning(attempt.pid)) {
      await writer.write('system', `Waiting for it to finish and release the state lock…\n`);
      while (processRunning(attempt.pid)) {
        heartbeat();
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
    if (here && attempt.output) {
      const secrets = Object.values(stack.variables).flatMap((stored) => ('sealed' in stored ? [decryptSecret(keys, stored.sealed)] : []));
      const { stdout, stderr } = await readTofuOutput(attempt.output, secrets);
      await writer.write('system', 'Its output, in full:\n');
      await writer.write('stdout', stdout);
      await writer.write('stderr', stderr);
    }
    // On another host the dead worker's tofu may still be finishing: give it time to release the
    // lock on its own before ending its Postgres session (which releases the advisory lock).
    const deadline = Date.now() + (deps.lockGraceMs ?? 10 * 60_000);
    let holders = await stateLockHolders(stack.backendSchema);
    while (holders.length > 0 && Date.now() < deadline) {
      heartbeat();
      await new Promise((resolve) => setTimeout(resolve, 1000));
      holders = await stateLockHolders(stack.backendSchema);
    }
    for (const holder of holders) {
      await db.execute(sql`select pg_terminate_backend(${holder})`);
      await writer.write('system', `Released the state lock of schema ${stack.backendSchema} (held by Postgres backend ${holder}).\n`);
    }
    if (holders.length === 0) await writer.write('system', `The state lock of schema ${stack.backendSchema} is free.\n`);
    if (here && attempt.workspace) await rm(attempt.workspace, { recursive: true, force: true });
    // The outputs of the state as the interrupted apply left it.
    const { ws, config, dispose } = await workspace(stack, 'recover');
    try {
      await init(writer, config, ws);
      await recordOutputs(run, await outputs(config, ws));
    } finally {
      await dispose();
    }
  }

  /** An apply ended: its outputs on the run and the stack, and the attempt record cleared. */
  async function recordOutputs(run: RunRow, out: Outputs): Promise<void> {
    await db.transaction(async (tx) => {
      await tx.update(terraformRuns).set({ applyAttempt: null, outputs: out, planSealed: null }).where(and(eq(terraformRuns.tenantId, run.tenantId), eq(terraformRuns.id, run.id)));
      await tx.update(terraformStacks).set({ outputs: out, updatedAt: new Date() }).where(and(eq(terraformStacks.tenantId, run.tenantId), eq(terraformStacks.id, run.stackId)));
    });
  }

  /** Postgres backends holding the pg backend's advisory lock on the stack's state. */
  async function stateLockHolders(schema: string): Promise<number[]> {
    const exists = await db.execute<{ found: boolean }>(sql`select to_regclass(${`${schema}.states`}) is not null as found`);
    if (!exists.rows[0]?.found) return [];
    const result = await db.execute<{ pid: number }>(
      sql`select l.pid from pg_locks l join ${sql.identifier(schema)}.states s on l.locktype = 'advisory' and l.objid = s.id::oid and l.classid = (s.id >> 32)::oid where l.granted and l.database = (select oid from pg_database where datname = current_database())`,
    );
    return result.rows.map((row) => Number(row.pid));
  }

  return {
    /**
     * init → plan (streamed into the run's log) → the reviewer's diff from `tofu show -json`;
     * the saved plan is kept sealed on the run for the apply. Returns only counts: the diff stays
     * in Postgres, out of Temporal's history.
     */
    async terraformPlan({ tenantId, runId }: { tenantId: string; runId: string }): Promise<PlanResult> {
      const { run, stack } = await load(tenantId, runId);
      const writer = deps.runLog.forCurrentActivity(tenantId);
      const { ws, config, dispose } = await workspace(stack, 'plan');
      try {
        await updateRun(tenantId, runId, { state: 'planning' });
        await init(writer, config, ws);
        const planned = await tofu(writer, config, ws, planArgs('keelson.tfplan', run.kind === 'destroy'));
        if (planned.code === 1) throw ApplicationFailure.nonRetryable(`tofu plan failed: ${tail(planned)}`, 'TofuPlanFailed');
        const shown = await tofu(undefined, config, ws, showJsonArgs('keelson.tfplan'));
        if (shown.code !== 0) throw ApplicationFailure.retryable(`tofu show failed: ${tail(shown)}`, 'TofuShowFailed');
        const diff = planDiff(JSON.parse(shown.stdout), ws.secrets);
        const plan = await readFile(join(ws.dir, 'keelson.tfplan'));
        const hasChanges = planned.code === 2 && !diff.empty;
        await updateRun(tenantId, runId, {
          diff,
          plans: sql`${terraformRuns.plans} + 1`,
          planSealed: hasChanges ? encryptSecret(keys, plan.toString('base64')) : null,
          planSha256: hasChanges ? createHash('sha256').update(plan).digest('hex') : null,
        });
        await writer.write('system', hasChanges ? `Plan: ${diff.summary.create} to add, ${diff.summary.update} to change, ${diff.summary.replace} to replace, ${diff.summary.delete} to destroy.\n` : 'No changes.\n');
        return { hasChanges, summary: diff.summary };
      } finally {
        await dispose();
      }
    },

    /**
     * Applies exactly the run's saved plan. A plan made stale by another change is refused by
     * tofu and answered `stale` (the run plans again). A retry after a crash mid-apply recovers
     * the lock the dead attempt held and answers `recovered`: the run plans again and shows what
     * is left to do.
     */
    async terraformApply({ tenantId, runId }: { tenantId: string; runId: string }): Promise<{ outcome: ApplyOutcome }> {
      const { run, stack } = await load(tenantId, runId);
      const writer = deps.runLog.forCurrentActivity(tenantId);
      if (run.applyAttempt) {
        await recover(writer, run, stack, run.applyAttempt);
        return { outcome: 'recovered' };
      }
      if (!run.planSealed || !run.planSha256) throw ApplicationFailure.nonRetryable('this run has no saved plan to apply', 'TerraformNoPlan');
      const plan = Buffer.from(decryptSecret(keys, run.planSealed), 'base64');
      if (createHash('sha256').update(plan).digest('hex') !== run.planSha256) throw ApplicationFailure.nonRetryable('the saved plan does not match its checksum', 'TerraformPlanCorrupt');
      const { root, ws, config, dispose } = await workspace(stack, 'apply');
      try {
        await init(writer, config, ws);
        await writeFile(join(ws.dir, 'keelson.tfplan'), plan);
        // Recorded before tofu starts: a worker that dies from here on leaves the retry a trace.
        const attempt: TerraformApplyAttempt = { host: hostname(), workspace: root, startedAt: new Date().toISOString() };
        await updateRun(tenantId, runId, { applyAttempt: attempt });
        let recorded: Promise<unknown> = Promise.resolve();
        const applied = await tofu(writer, config, ws, applyArgs('keelson.tfplan'), (pid, output) => {
          // execute(): a drizzle query runs only once awaited, and this one must not wait for tofu.
          recorded = updateRun(tenantId, runId, { applyAttempt: { ...attempt, pid, output } }).execute();
        });
        await recorded;
        if (applied.code !== 0) {
          await updateRun(tenantId, runId, { applyAttempt: null });
          if (/Saved plan is stale/i.test(`${applied.stderr}${applied.stdout}`)) {
            await writer.write('system', 'The saved plan is stale (the state changed since it was made): planning again.\n');
            return { outcome: 'stale' };
          }
          throw ApplicationFailure.nonRetryable(`tofu apply failed: ${tail(applied)}`, 'TofuApplyFailed');
        }
        await recordOutputs(run, await outputs(config, ws));
        return { outcome: 'applied' };
      } finally {
        await dispose();
      }
    },

    /** Records the run's state (and who approved, when) as the workflow moves on. */
    async terraformSetRunState(input: { tenantId: string; runId: string; state: TerraformRunState; approvedBy?: string; approvedAt?: string; error?: string }): Promise<void> {
      const finished = ['applied', 'no-changes', 'rejected', 'failed', 'canceled'].includes(input.state);
      await updateRun(input.tenantId, input.runId, {
        state: input.state,
        ...(input.approvedBy ? { approvedBy: input.approvedBy, approvedAt: new Date(input.approvedAt ?? Date.now()) } : {}),
        ...(input.error !== undefined ? { error: input.error } : {}),
        ...(finished ? { finishedAt: new Date(), planSealed: null } : {}),
      });
    },

    /**
     * The stack's drift check: a plan with `-detailed-exitcode` (exit 2: the infrastructure no
     * longer matches). Drift opens (or refreshes) the stack's one open finding with the diff;
     * a clean plan resolves it.
     */
    async terraformCheckDrift({ tenantId, stackId }: { tenantId: string; stackId: string }): Promise<{ drifted: boolean; findingId: string | null }> {
      const stack = await loadStack(tenantId, stackId);
      const { ws, config, dispose } = await workspace(stack, 'drift');
      try {
        await init(undefined, config, ws);
        const planned = await tofu(undefined, config, ws, planArgs('drift.tfplan'));
        if (planned.code === 1) throw ApplicationFailure.retryable(`tofu plan failed: ${tail(planned)}`, 'TofuPlanFailed');
        const now = new Date();
        if (planned.code === 0) {
          await db.transaction(async (tx) => {
            const resolved = await tx
              .update(terraformDriftFindings)
              .set({ open: false, resolvedAt: now })
              .where(and(eq(terraformDriftFindings.stackId, stackId), eq(terraformDriftFindings.open, true)))
              .returning({ id: terraformDriftFindings.id });
            if (resolved.length > 0) await tx.update(alerts).set({ state: 'resolved', resolvedAt: now, updatedAt: now }).where(inArray(alerts.id, resolved.map((f) => f.id)));
            await tx.update(terraformStacks).set({ driftStatus: 'in-sync', driftCheckedAt: now }).where(eq(terraformStacks.id, stackId));
          });
          return { drifted: false, findingId: null };
        }
        const shown = await tofu(undefined, config, ws, showJsonArgs('drift.tfplan'));
        if (shown.code !== 0) throw ApplicationFailure.retryable(`tofu show failed: ${tail(shown)}`, 'TofuShowFailed');
        const diff = planDiff(JSON.parse(shown.stdout), ws.secrets);
        const findingId = await db.transaction(async (tx) => {
          const [open] = await tx.select({ id: terraformDriftFindings.id }).from(terraformDriftFindings).where(and(eq(terraformDriftFindings.stackId, stackId), eq(terraformDriftFindings.open, true)));
          let id = open?.id;
          if (id) await tx.update(terraformDriftFindings).set({ diff, lastSeenAt: now }).where(eq(terraformDriftFindings.id, id));
          else id = (await tx.insert(terraformDriftFindings).values({ tenantId, stackId, diff }).returning({ id: terraformDriftFindings.id }))[0]!.id;
          // The finding's alert shares its id: one alert per finding, however often drift is seen.
          await tx
            .insert(alerts)
            .values({
              id: id!,
              tenantId,
              kind: 'drift',
              workflowId: WorkflowId.terraformDrift(stackId),
              state: 'firing',
              severity: 'warning',
              summary: `Terraform stack "${stack.name}" drifted from its state: ${driftSummary(diff.summary)}`,
              startedAt: now,
              firedAt: now,
            })
            .onConflictDoNothing({ target: alerts.id });
          await tx.update(terraformStacks).set({ driftStatus: 'drifted', driftCheckedAt: now }).where(eq(terraformStacks.id, stackId));
          return id!;
        });
        return { drifted: true, findingId };
      } finally {
        await dispose();
      }
    },
  };
}

export type TerraformActivities = ReturnType<typeof createTerraformActivities>;
