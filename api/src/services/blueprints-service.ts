import { decryptSecret, encryptSecret } from '@keelson/common/codec';
import { writeAudit } from '@keelson/db';
import { blueprints, type PortMapping, type VolumeMount } from '@keelson/db/schema';
import { and, asc, eq, sql } from 'drizzle-orm';
import { ConflictError, NotFoundError } from '../errors';
import { auditActor, type ServiceContext } from './context';

export interface BlueprintInput {
  name: string;
  description: string;
  image: string;
  command: string[];
  ports: PortMapping[];
  volumes: VolumeMount[];
  env: Record<string, string>;
  cpuLimit: number | null;
  memoryLimitMb: number | null;
}

type BlueprintRow = typeof blueprints.$inferSelect;

/** Env values stay encrypted and are never returned; callers see the names. */
export function presentBlueprint(ctx: ServiceContext, b: BlueprintRow) {
  return {
    id: b.id,
    name: b.name,
    description: b.description,
    image: b.image,
    command: b.command,
    ports: b.ports,
    volumes: b.volumes,
    envKeys: Object.keys(blueprintEnv(ctx, b)).sort(),
    cpuLimit: b.cpuLimit,
    memoryLimitMb: b.memoryLimitMb,
    createdAt: b.createdAt.toISOString(),
    updatedAt: b.updatedAt.toISOString(),
  };
}

export function blueprintEnv(ctx: ServiceContext, b: Pick<BlueprintRow, 'envSealed'>): Record<string, string> {
  return b.envSealed ? (JSON.parse(decryptSecret(ctx.deps.keys, b.envSealed)) as Record<string, string>) : {};
}

export async function listBlueprints(ctx: ServiceContext) {
  const rows = await ctx.deps.db.select().from(blueprints).where(eq(blueprints.tenantId, ctx.principal.tenantId)).orderBy(asc(blueprints.name));
  return rows.map((b) => presentBlueprint(ctx, b));
}

export async function requireBlueprint(ctx: ServiceContext, id: string): Promise<BlueprintRow> {
  const [row] = await ctx.deps.db.select().from(blueprints).where(and(eq(blueprints.tenantId, ctx.principal.tenantId), eq(blueprints.id, id)));
  if (!row) throw new NotFoundError('blueprint');
  return row;
}

function columns(ctx: ServiceContext, input: BlueprintInput) {
  const { env, ...rest } = input;
  return { ...rest, envSealed: Object.keys(env).length ? encryptSecret(ctx.deps.keys, JSON.stringify(env)) : null };
}

export async function createBlueprint(ctx: ServiceContext, input: BlueprintInput) {
  return ctx.deps.db.transaction(async (tx) => {
    const [row] = await tx
      .insert(blueprints)
      .values({ tenantId: ctx.principal.tenantId, ...columns(ctx, input) })
      .onConflictDoNothing()
      .returning();
    if (!row) throw new ConflictError(`a blueprint named "${input.name}" already exists`);
    await writeAudit(tx, { ...auditActor(ctx), action: 'blueprint.create', resourceType: 'blueprint', resourceId: row.id, details: { name: row.name, image: row.image } });
    return presentBlueprint(ctx, row);
  });
}

export async function updateBlueprint(ctx: ServiceContext, id: string, input: BlueprintInput) {
  return ctx.deps.db.transaction(async (tx) => {
    const [row] = await tx
      .update(blueprints)
      .set({ ...columns(ctx, input), updatedAt: sql`now()` })
      .where(and(eq(blueprints.tenantId, ctx.principal.tenantId), eq(blueprints.id, id)))
      .returning()
      .catch((err: { code?: string }) => {
        if (err.code === '23505') throw new ConflictError(`a blueprint named "${input.name}" already exists`);
        throw err;
      });
    if (!row) throw new NotFoundError('blueprint');
    await writeAudit(tx, { ...auditActor(ctx), action: 'blueprint.update', resourceType: 'blueprint', resourceId: id, details: { name: row.name } });
    return presentBlueprint(ctx, row);
  });
}

export async function deleteBlueprint(ctx: ServiceContext, id: string) {
  await ctx.deps.db.transaction(async (tx) => {
    const [row] = await tx
      .delete(blueprints)
      .where(and(eq(blueprints.tenantId, ctx.principal.tenantId), eq(blueprints.id, id)))
      .returning({ name: blueprints.name });
    if (!row) throw new NotFoundError('blueprint');
    await writeAudit(tx, { ...auditActor(ctx), action: 'blueprint.delete', resourceType: 'blueprint', resourceId: id, details: { name: row.name } });
  });
}
