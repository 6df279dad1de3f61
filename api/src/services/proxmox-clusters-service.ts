import { decryptSecret, encryptSecret } from '@keelson/common/codec';
import { writeAudit, type Executor } from '@keelson/db';
import { guests, proxmoxClusters } from '@keelson/db/schema';
import { and, asc, eq, inArray, notInArray, sql } from 'drizzle-orm';
import { ConflictError, NotFoundError } from '../errors';
import { auditActor, type ServiceContext } from './context';
import { checkClusterConnection, normalizeFingerprint } from './proxmox-connection';

export interface ClusterInput {
  name: string;
  url: string;
  tokenId: string;
  tokenSecret: string;
  caPem: string;
  fingerprint?: string | null;
  defaultTemplateVmid?: number | null;
  defaultStorage?: string | null;
  defaultOstemplate?: string | null;
}

/** On update, fields left out keep their value; `tokenSecret` omitted keeps the stored one. */
export type ClusterChanges = Partial<ClusterInput>;

type ClusterRow = typeof proxmoxClusters.$inferSelect;

/** The token secret stays encrypted and is never returned. */
export function presentCluster(c: ClusterRow) {
  return {
    id: c.id,
    name: c.name,
    url: c.url,
    tokenId: c.tokenId,
    caPem: c.caPem,
    fingerprint: c.fingerprint,
    defaultTemplateVmid: c.defaultTemplateVmid,
    defaultStorage: c.defaultStorage,
    defaultOstemplate: c.defaultOstemplate,
    createdAt: c.createdAt.toISOString(),
    updatedAt: c.updatedAt.toISOString(),
  };
}

export async function listClusters(ctx: ServiceContext) {
  const rows = await ctx.deps.db.select().from(proxmoxClusters).where(eq(proxmoxClusters.tenantId, ctx.principal.tenantId)).orderBy(asc(proxmoxClusters.name));
  return rows.map(presentCluster);
}

/** A cluster of the caller's organization; another organization's is the same 404 as none. */
export async function requireCluster(ctx: ServiceContext, id: string, tx: Executor = ctx.deps.db): Promise<ClusterRow> {
  const [row] = await tx.select().from(proxmoxClusters).where(and(eq(proxmoxClusters.tenantId, ctx.principal.tenantId), eq(proxmoxClusters.id, id)));
  if (!row) throw new NotFoundError('cluster');
  return row;
}

function conflictOnDuplicate(name: string | undefined) {
  return (err: { code?: string; cause?: { code?: string } }) => {
    if ((err.code ?? err.cause?.code) === '23505') throw new ConflictError(`a cluster named "${name}" already exists`);
    throw err;
  };
}

/** What the audit log says about a cluster: never the secret, not even its length. */
const auditDetails = (c: Pick<ClusterInput, 'name' | 'url' | 'tokenId'> & { fingerprint: string | null }) => ({ name: c.name, url: c.url, tokenId: c.tokenId, fingerprint: c.fingerprint });

/**
 * Records a cluster after checking it the way workers will reach it (pinned CA, API token);
 * a failed check is a 400 naming the setting to fix, and nothing is stored.
 */
export async function createCluster(ctx: ServiceContext, input: ClusterInput) {
  const check = await checkClusterConnection(input);
  // Only a fingerprint the caller pinned is kept: the CA is what trusts the cluster, and a
  // renewed node certificate must not lock the cluster out.
  const fingerprint = input.fingerprint ? normalizeFingerprint(input.fingerprint) : null;
  return ctx.deps.db.transaction(async (tx) => {
    const { tokenSecret, ...fields } = input;
    const [row] = await tx
      .insert(proxmoxClusters)
      .values({ ...fields, tenantId: ctx.principal.tenantId, fingerprint, tokenSecretSealed: encryptSecret(ctx.deps.keys, tokenSecret) })
      .returning()
      .catch(conflictOnDuplicate(input.name));
    await writeAudit(tx, { ...auditActor(ctx), action: 'proxmox.cluster.create', resourceType: 'proxmox_cluster', resourceId: row!.id, details: { ...auditDetails({ ...input, fingerprint }), version: check.version } });
    return { ...presentCluster(row!), version: check.version, presentedFingerprint: check.fingerprint };
  });
}

const CONNECTION_FIELDS = ['url', 'tokenId', 'tokenSecret', 'caPem', 'fingerprint'] as const;

export async function updateCluster(ctx: ServiceContext, id: string, changes: ClusterChanges) {
  const current = await requireCluster(ctx, id);
  const fingerprint = changes.fingerprint === undefined ? undefined : changes.fingerprint ? normalizeFingerprint(changes.fingerprint) : null;
  if (CONNECTION_FIELDS.some((f) => changes[f] !== undefined)) {
    // A changed connection is checked as a whole, with the stored secret when no new one is given.
    await checkClusterConnection({
      url: changes.url ?? current.url,
      tokenId: changes.tokenId ?? current.tokenId,
      tokenSecret: changes.tokenSecret ?? decryptSecret(ctx.deps.keys, current.tokenSecretSealed),
      caPem: changes.caPem ?? current.caPem,
      fingerprint: fingerprint === undefined ? current.fingerprint : fingerprint,
    });
  }
  return ctx.deps.db.transaction(async (tx) => {
    const { tokenSecret, fingerprint: _given, ...fields } = changes;
    const [row] = await tx
      .update(proxmoxClusters)
      .set({
        ...fields,
        ...(fingerprint !== undefined ? { fingerprint } : {}),
        ...(tokenSecret !== undefined ? { tokenSecretSealed: encryptSecret(ctx.deps.keys, tokenSecret) } : {}),
        updatedAt: sql`now()`,
      })
      .where(and(eq(proxmoxClusters.tenantId, ctx.principal.tenantId), eq(proxmoxClusters.id, id)))
      .returning()
      .catch(conflictOnDuplicate(changes.name));
    if (!row) throw new NotFoundError('cluster');
    await writeAudit(tx, { ...auditActor(ctx), action: 'proxmox.cluster.update', resourceType: 'proxmox_cluster', resourceId: id, details: { changed: Object.keys(changes).sort() } });
    return presentCluster(row);
  });
}

/**
 * Forgets a cluster that has no guests left on it. Records of failed and destroyed guests go
 * with it; their runs stay in Temporal's history.
 */
export async function deleteCluster(ctx: ServiceContext, id: string): Promise<void> {
  await ctx.deps.db.transaction(async (tx) => {
    const cluster = await requireCluster(ctx, id, tx);
    const live = await tx
      .select({ name: guests.name })
      .from(guests)
      .where(and(eq(guests.tenantId, ctx.principal.tenantId), eq(guests.clusterId, id), notInArray(guests.state, ['failed', 'destroyed'])));
    if (live.length) throw new ConflictError(`cluster "${cluster.name}" still has ${live.length} guest(s): ${live.map((g) => g.name).join(', ')}; destroy them first`);
    await tx.delete(guests).where(and(eq(guests.tenantId, ctx.principal.tenantId), eq(guests.clusterId, id), inArray(guests.state, ['failed', 'destroyed'])));
    await tx.delete(proxmoxClusters).where(and(eq(proxmoxClusters.tenantId, ctx.principal.tenantId), eq(proxmoxClusters.id, id)));
    await writeAudit(tx, { ...auditActor(ctx), action: 'proxmox.cluster.delete', resourceType: 'proxmox_cluster', resourceId: id, details: { name: cluster.name } });
  });
}
