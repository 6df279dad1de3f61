/**
 * `npm run db:seed`: the first organization and its owner. Idempotent — running it again
 * changes nothing (an existing admin keeps their password).
 *   KEELSON_ORG_SLUG (default `default`), KEELSON_ORG_NAME, KEELSON_ADMIN_EMAIL
 *   (default admin@keelson.local), KEELSON_ADMIN_PASSWORD (default keelson-admin)
 */
import { connectDb } from './client';
import { loadSeedEnv, seedOptionsFrom } from './env';
import { seed } from './seed';

try {
  const env = loadSeedEnv();
  const handle = connectDb(env.DATABASE_URL, { max: 1 });
  try {
    const { tenantId, userId } = await seed(handle.db, seedOptionsFrom(env));
    console.log(JSON.stringify({ msg: 'seeded', org: env.KEELSON_ORG_SLUG, tenantId, admin: env.KEELSON_ADMIN_EMAIL, userId }));
  } finally {
    await handle.close();
  }
} catch (err) {
  console.error(`db:seed failed: ${(err as Error).message}`);
  process.exitCode = 1;
}
