import { decryptSecret, type KeyRing } from '@keelson/common/codec';
import type { Database } from '@keelson/db';
import { containers } from '@keelson/db/schema';
import { ApplicationFailure } from '@temporalio/activity';
import { and, eq, sql } from 'drizzle-orm';
import type { DockerContainerSpec } from '../docker/index';

type ContainerState = (typeof containers.$inferSelect)['state'];

/** Core-queue activities that read and record container state in Postgres. */
export function createContainerDbActivities({ db, keys }: { db: Database; keys: KeyRing }) {
  return {
    async loadContainerSpec({ tenantId, containerId }: { tenantId: string; containerId: string }): Promise<DockerContainerSpec> {
      const [row] = await db
        .select()
        .from(containers)
        .where(and(eq(containers.tenantId, tenantId), eq(containers.id, containerId)));
      // Retryable: the API starts the workflow inside the transaction that records the container.
      if (!row) throw ApplicationFailure.retryable(`container ${containerId} is not recorded (yet)`, 'ContainerNotFound');
      const env = row.envSealed ? (JSON.parse(decryptSecret(keys, row.envSealed)) as Record<string, string>) : {};
      const { image, command, ports, volumes, cpuLimit, memoryLimitMb } = row.spec;
      return { tenantId, containerId, name: row.name, image, command, ports, volumes, env, cpuLimit, memoryLimitMb };
    },

    /** Keyed update: running it twice leaves the same row. */
    async recordContainerState(input: {
      tenantId: string;
      containerId: string;
      state: ContainerState;
      dockerId?: string;
      error?: string;
    }): Promise<void> {
      await db
        .update(containers)
        .set({
          state: input.state,
          ...(input.dockerId ? { dockerId: input.dockerId } : {}),
          lastError: input.state === 'failed' ? (input.error ?? null) : null,
          updatedAt: sql`now()`,
        })
        .where(and(eq(containers.tenantId, input.tenantId), eq(containers.id, input.containerId)));
    },
  };
}

export type ContainerDbActivities = ReturnType<typeof createContainerDbActivities>;
