import { decryptSecret, type KeyRing } from '@keelson/common/codec';
import type { Database } from '@keelson/db';
import { proxmoxClusters } from '@keelson/db/schema';
import { ApplicationFailure } from '@temporalio/activity';
import { eq } from 'drizzle-orm';
import type { ProxmoxClusterDirectory, ProxmoxConnection } from '../proxmox/types';

/**
 * The clusters the API recorded, read from Postgres on every call (so a rotated token or CA
 * takes effect without restarting workers), with the token secret decrypted by the key ring.
 * The API checks that a cluster belongs to the caller's organization before it starts a run on it.
 */
export function createPostgresClusterDirectory({ db, keys }: { db: Database; keys: KeyRing }): ProxmoxClusterDirectory {
  return {
    async connect(clusterId: string): Promise<ProxmoxConnection> {
      const [row] = await db
        .select({ url: proxmoxClusters.url, tokenId: proxmoxClusters.tokenId, tokenSecretSealed: proxmoxClusters.tokenSecretSealed, caPem: proxmoxClusters.caPem })
        .from(proxmoxClusters)
        .where(eq(proxmoxClusters.id, clusterId));
      // Not retryable: a cluster removed under a run will not come back by waiting.
      if (!row) throw ApplicationFailure.nonRetryable(`Proxmox cluster ${clusterId} is not recorded`, 'ClusterNotFound');
      return { url: row.url, tokenId: row.tokenId, tokenSecret: decryptSecret(keys, row.tokenSecretSealed), caPem: row.caPem };
    },
  };
}
