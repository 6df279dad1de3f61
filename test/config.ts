import { scratchPrefix } from '../db/src/scratch-databases';

/** The PostgreSQL server tests use; each test file gets its own database cloned from a template. */
export const ADMIN_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
/** Test databases are scratch databases of kind `t`, named after the run's pid. */
export const TEST_DB_KIND = 't';
export const testDbPrefix = (pid: number) => scratchPrefix(TEST_DB_KIND, pid);
export const templateDbName = (pid: number) => `${testDbPrefix(pid)}template`;
