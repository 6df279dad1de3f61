import type { Database } from '@keelson/db';
import { apps, releases, webhookDeliveries, type ReleaseStatus, type ReleaseTimings } from '@keelson/db/schema';
import { ApplicationFailure } from '@temporalio/activity';
import { and, eq, inArray, sql } from 'drizzle-orm';

/** Everything a deploy needs to know about its app and release, read once at its start. */
export interface DeployPlan {
  tenantId: string;
  /** The app's settings; `envSealed` is still encrypted: only the node opens it. */
  app: Omit<typeof apps.$inferSelect, 'tenantId' | 'webhookSecretSealed' | 'currentReleaseId' | 'createdAt' | 'updatedAt'>;
  release: { id: string; trigger: 'push' | 'manual' | 'rollback'; commit: string | null; status: ReleaseStatus };
  /** For a rollback: the image and commit of the release it returns to. */
  source: { releaseId: string; image: string; commit: string | null } | null;
  /** The release serving traffic when the deploy started, if any. */
  current: { releaseId: string; upstream: string; image: string | null } | null;
}

export interface ReleasePatch {
  status?: ReleaseStatus;
  commitSha?: string;
  commitMessage?: string;
  image?: string;
  containerName?: string;
  upstream?: string;
  error?: string | null;
  timings?: ReleaseTimings;
  started?: boolean;
  finished?: boolean;
}

/** Release bookkeeping for deploy workflows (core queue, Postgres only). Keyed updates: safe to repeat. */
export function createReleaseDbActivities({ db }: { db: Database }) {
  async function loadRelease(id: string) {
    const [row] = await db.select().from(releases).where(eq(releases.id, id));
    return row;
  }

  return {
    async loadDeployPlan({ appId, releaseId }: { appId: string; releaseId: string }): Promise<DeployPlan> {
      const [app] = await db.select().from(apps).where(eq(apps.id, appId));
      if (!app) throw ApplicationFailure.nonRetryable(`app ${appId} no longer exists`, 'AppNotFound');
      const release = await loadRelease(releaseId);
      if (!release || release.appId !== appId) throw ApplicationFailure.nonRetryable(`release ${releaseId} does not belong to app ${appId}`, 'ReleaseNotFound');
      const current = app.currentReleaseId ? await loadRelease(app.currentReleaseId) : undefined;
      const source = release.sourceReleaseId ? await loadRelease(release.sourceReleaseId) : undefined;
      if (release.trigger === 'rollback' && !source?.image) {
        throw ApplicationFailure.nonRetryable('the release to roll back to has no image', 'RollbackImpossible');
      }
      const { tenantId, webhookSecretSealed: _secret, currentReleaseId: _current, createdAt: _c, updatedAt: _u, ...settings } = app;
      return {
        tenantId,
        app: settings,
        release: { id: release.id, trigger: release.trigger, commit: release.commitSha, status: release.status },
        source: source ? { releaseId: source.id, image: source.image!, commit: source.commitSha } : null,
        current: current?.upstream ? { releaseId: current.id, upstream: current.upstream, image: current.image } : null,
      };
    },

    async updateRelease({ releaseId, patch }: { releaseId: string; patch: ReleasePatch }): Promise<void> {
      const { timings, started, finished, ...fields } = patch;
      await db
        .update(releases)
        .set({
          ...fields,
          ...(timings ? { timings: sql`${releases.timings} || ${JSON.stringify(timings)}::jsonb` } : {}),
          ...(started ? { startedAt: sql`coalesce(${releases.startedAt}, now())` } : {}),
          ...(finished ? { finishedAt: sql`coalesce(${releases.finishedAt}, now())` } : {}),
        })
        .where(eq(releases.id, releaseId));
    },

    /**
     * Traffic moved to `releaseId`: it is live and the app's current release; the one it replaced
     * (if any) is retired. One transaction, so the app never points at two releases or none.
     */
    async recordSwitch({ appId, releaseId, replacedReleaseId }: { appId: string; releaseId: string; replacedReleaseId: string | null }): Promise<void> {
      await db.transaction(async (tx) => {
        await tx.update(releases).set({ status: 'live', switchedAt: sql`coalesce(${releases.switchedAt}, now())` }).where(eq(releases.id, releaseId));
        if (replacedReleaseId && replacedReleaseId !== releaseId) {
          await tx.update(releases).set({ status: 'retired' }).where(and(eq(releases.id, replacedReleaseId), eq(releases.status, 'live')));
        }
        await tx.update(apps).set({ currentReleaseId: releaseId, updatedAt: new Date() }).where(eq(apps.id, appId));
      });
    },

    /** Traffic went back from `releaseId` to `restoredReleaseId` (or to nothing). */
    async recordRollback({
      appId,
      releaseId,
      restoredReleaseId,
      error,
    }: {
      appId: string;
      releaseId: string;
      restoredReleaseId: string | null;
      error: string;
    }): Promise<void> {
      await db.transaction(async (tx) => {
        await tx.update(releases).set({ status: 'rolled_back', error, finishedAt: sql`coalesce(${releases.finishedAt}, now())` }).where(eq(releases.id, releaseId));
        if (restoredReleaseId) await tx.update(releases).set({ status: 'live' }).where(eq(releases.id, restoredReleaseId));
        await tx.update(apps).set({ currentReleaseId: restoredReleaseId, updatedAt: new Date() }).where(eq(apps.id, appId));
      });
    },

    /** Queued requests that a newer one replaced: recorded, with their deliveries, never run. */
    async supersedeReleases({ releaseIds, by }: { releaseIds: string[]; by: string }): Promise<void> {
      if (!releaseIds.length) return;
      await db
        .update(releases)
        .set({ status: 'superseded', error: `superseded by release ${by}`, finishedAt: sql`now()` })
        .where(and(inArray(releases.id, releaseIds), eq(releases.status, 'queued')));
      await db.update(webhookDeliveries).set({ reason: `superseded by release ${by}` }).where(inArray(webhookDeliveries.releaseId, releaseIds));
    },
  };
}

export type ReleaseDbActivities = ReturnType<typeof createReleaseDbActivities>;
