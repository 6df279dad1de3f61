import type { Database } from '@keelson/db';
import { nodes, type NodeCapacity } from '@keelson/db/schema';
import type Docker from 'dockerode';
import { eq, sql } from 'drizzle-orm';

/** Reads the engine's capacity and marks the node online; called by the node's worker. */
export async function reportNodeHealth(db: Database, docker: Docker, nodeId: string): Promise<NodeCapacity | null> {
  try {
    const info = await docker.info();
    const capacity: NodeCapacity = {
      cpus: info.NCPU,
      memoryBytes: info.MemTotal,
      containersRunning: info.ContainersRunning,
      serverVersion: info.ServerVersion,
    };
    await db.update(nodes).set({ status: 'online', capacity, lastSeenAt: sql`now()` }).where(eq(nodes.id, nodeId));
    return capacity;
  } catch {
    await db.update(nodes).set({ status: 'offline' }).where(eq(nodes.id, nodeId));
    return null;
  }
}
