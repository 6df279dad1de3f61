import { eq, sql } from 'drizzle-orm';
import { memberships, tenants, users } from '../schema/index';
import type { Database } from './client';
import { hashPassword } from './password';

export interface SeedOptions {
  orgSlug: string;
  orgName: string;
  adminEmail: string;
  adminPassword: string;
}

/** Creates the first organization and its owner; running it again changes nothing. */
export async function seed(db: Database, opts: SeedOptions): Promise<{ tenantId: string; userId: string }> {
  return db.transaction(async (tx) => {
    const [tenant] = await tx
      .insert(tenants)
      .values({ slug: opts.orgSlug, name: opts.orgName })
      .onConflictDoUpdate({ target: tenants.slug, set: { slug: sql`excluded.slug` } })
      .returning({ id: tenants.id });
    let [user] = await tx
      .select({ id: users.id })
      .from(users)
      .where(eq(sql`lower(${users.email})`, opts.adminEmail.toLowerCase()));
    if (!user) {
      [user] = await tx
        .insert(users)
        .values({ email: opts.adminEmail, name: 'Admin', passwordHash: await hashPassword(opts.adminPassword) })
        .returning({ id: users.id });
    }
    await tx
      .insert(memberships)
      .values({ tenantId: tenant!.id, userId: user!.id, role: 'owner' })
      .onConflictDoNothing();
    return { tenantId: tenant!.id, userId: user!.id };
  });
}
