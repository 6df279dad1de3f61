import { encryptSecret } from '@keelson/common/codec';
import { MailOperation, resourceRef, WorkflowId, WorkflowType } from '@keelson/common/constants';
import { writeAudit } from '@keelson/db';
import { smtpSettings, tenants, type SmtpSecurity } from '@keelson/db/schema';
import { WorkflowFailedError } from '@temporalio/client';
import { eq, sql } from 'drizzle-orm';
import { randomUUID } from 'node:crypto';
import type { SmtpTestInput } from '../../../../workflows/mail/smtp-test';
import { NotFoundError } from '../../errors';
import { auditActor, type ServiceContext } from '../context';
import { startWorkflowRun, type StartedRun } from '../runs-service';

export interface SmtpSettingsInput {
  host: string;
  port: number;
  security: SmtpSecurity;
  username?: string | null;
  /** Write-only. Left out keeps the stored password; `null` removes it. */
  password?: string | null;
  fromAddress: string;
  fromName?: string | null;
  replyTo?: string | null;
}

type Row = typeof smtpSettings.$inferSelect;

/** The password never leaves: only whether one is stored. */
export function presentSmtpSettings(r: Row) {
  return {
    host: r.host,
    port: r.port,
    security: r.security,
    username: r.username,
    passwordSet: r.passwordSealed !== null,
    fromAddress: r.fromAddress,
    fromName: r.fromName,
    replyTo: r.replyTo,
    updatedAt: r.updatedAt.toISOString(),
  };
}

export async function getSmtpSettings(ctx: ServiceContext) {
  const [row] = await ctx.deps.db.select().from(smtpSettings).where(eq(smtpSettings.tenantId, ctx.principal.tenantId));
  return row ? presentSmtpSettings(row) : null;
}

/** Creates or replaces the organization's SMTP settings; the password is sealed before it is stored. */
export async function putSmtpSettings(ctx: ServiceContext, input: SmtpSettingsInput) {
  const tenantId = ctx.principal.tenantId;
  return ctx.deps.db.transaction(async (tx) => {
    const [before] = await tx.select().from(smtpSettings).where(eq(smtpSettings.tenantId, tenantId)).for('update');
    const passwordSealed =
      input.password === undefined ? (before?.passwordSealed ?? null) : input.password === null ? null : encryptSecret(ctx.deps.keys, input.password);
    const values = {
      host: input.host,
      port: input.port,
      security: input.security,
      username: input.username ?? null,
      passwordSealed,
      fromAddress: input.fromAddress,
      fromName: input.fromName ?? null,
      replyTo: input.replyTo ?? null,
      updatedAt: sql`now()`,
    };
    const [row] = await tx
      .insert(smtpSettings)
      .values({ tenantId, ...values })
      .onConflictDoUpdate({ target: smtpSettings.tenantId, set: values })
      .returning();
    await writeAudit(tx, {
      ...auditActor(ctx),
      action: 'mail.smtp.set',
      resourceType: 'smtp_settings',
      resourceId: tenantId,
      details: {
        host: input.host,
        port: input.port,
        security: input.security,
        username: input.username ?? null,
        fromAddress: input.fromAddress,
        password: input.password === undefined ? 'kept' : input.password === null ? 'removed' : 'changed',
      },
    });
    return presentSmtpSettings(row!);
  });
}

export async function deleteSmtpSettings(ctx: ServiceContext): Promise<void> {
  await ctx.deps.db.transaction(async (tx) => {
    const deleted = await tx.delete(smtpSettings).where(eq(smtpSettings.tenantId, ctx.principal.tenantId)).returning({ tenantId: smtpSettings.tenantId });
    if (deleted.length === 0) throw new NotFoundError('SMTP settings');
    await writeAudit(tx, { ...auditActor(ctx), action: 'mail.smtp.delete', resourceType: 'smtp_settings', resourceId: ctx.principal.tenantId });
  });
}

/** How long the test route waits for the test email's run before answering `pending`. */
const TEST_WAIT_MS = 30_000;

export interface SmtpTestResult {
  run: StartedRun;
  status: 'sent' | 'failed' | 'pending';
  messageId: string | null;
  error: string | null;
}

/**
 * Sends a test email through the stored settings as a run (`mail.test`), and waits a little for
 * its outcome so the settings page can say at once whether it worked.
 */
export async function sendSmtpTest(ctx: ServiceContext, to: string): Promise<SmtpTestResult> {
  const settings = await getSmtpSettings(ctx);
  if (!settings) throw new NotFoundError('SMTP settings');
  const [org] = await ctx.deps.db.select({ name: tenants.name }).from(tenants).where(eq(tenants.id, ctx.principal.tenantId));
  const requestId = randomUUID();
  const input: Omit<SmtpTestInput, 'tenantId' | 'actor'> = { requestId, to, organizationName: org?.name ?? 'your organization' };
  const run = await startWorkflowRun(ctx, {
    operation: MailOperation.test,
    workflowType: WorkflowType.smtpTest,
    workflowId: WorkflowId.smtpTest(ctx.principal.tenantId, requestId),
    input: { ...input },
    resources: [resourceRef('smtp', ctx.principal.tenantId)],
  });
  const handle = ctx.deps.temporal.workflow.getHandle(run.workflowId, run.runId);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), TEST_WAIT_MS)));
  try {
    const outcome = await Promise.race([handle.result() as Promise<{ messageId: string }>, timeout]);
    if (outcome === 'timeout') return { run, status: 'pending', messageId: null, error: null };
    return { run, status: 'sent', messageId: outcome.messageId, error: null };
  } catch (err) {
    const cause = err instanceof WorkflowFailedError ? (err.cause?.cause ?? err.cause) : err;
    return { run, status: 'failed', messageId: null, error: (cause as Error)?.message ?? String(cause) };
  } finally {
    clearTimeout(timer);
  }
}
