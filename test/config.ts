/** The PostgreSQL server tests use; each test file gets its own database cloned from a template. */
export const ADMIN_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
/** Databases of one test run carry its pid, so concurrent runs never drop each other's. */
export const testDbPrefix = (pid: number) => `keelson_t_${pid}_`;
export const templateDbName = (pid: number) => `${testDbPrefix(pid)}template`;
