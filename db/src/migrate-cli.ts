/**
 * `npm run db:migrate`: applies every pending drizzle-kit migration to DATABASE_URL.
 * Safe to run on every start (the compose stack runs it before the API and workers).
 */
import { connectDb } from './client';
import { loadDbEnv } from './env';
import { migrateDb } from './migrate';

const started = Date.now();
try {
  const env = loadDbEnv();
  const handle = connectDb(env.DATABASE_URL, { max: 1 });
  try {
    await migrateDb(handle.db);
  } finally {
    await handle.close();
  }
  console.log(JSON.stringify({ msg: 'migrations applied', database: redact(env.DATABASE_URL), ms: Date.now() - started }));
} catch (err) {
  console.error(`db:migrate failed: ${(err as Error).message}`);
  process.exitCode = 1;
}

function redact(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
}
