import pg from 'pg';

/**
 * Databases a test run or a benchmark makes for itself on a Postgres server. Their names start
 * with `<prefix><pid>_`, so what a run that died left behind is recognised (its pid is gone)
 * and dropped by the next one, and concurrent runs never touch each other's.
 */
export function scratchPrefix(kind: string, pid = process.pid): string {
  return `keelson_${kind}_${pid}_`;
}

/** The URL of database `name` on the server `adminUrl` points at. */
export function databaseUrl(adminUrl: string, name: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

async function withAdmin<T>(adminUrl: string, fn: (admin: pg.Client) => Promise<T>): Promise<T> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.end();
  }
}

/** Creates `name` (optionally from a template) and returns its URL. Names are ours, not input. */
export async function createScratchDatabase(adminUrl: string, name: string, template?: string): Promise<string> {
  await withAdmin(adminUrl, (admin) => admin.query(`create database "${name}"${template ? ` template "${template}"` : ''}`));
  return databaseUrl(adminUrl, name);
}

/** Drops every database of `kind` whose name `match` accepts. */
export async function dropScratchDatabases(adminUrl: string, kind: string, match: (name: string) => boolean): Promise<void> {
  await withAdmin(adminUrl, async (admin) => {
    const { rows } = await admin.query<{ datname: string }>(`select datname from pg_database where datname like $1`, [`keelson_${kind}_%`]);
    for (const { datname } of rows.filter((r) => match(r.datname))) {
      await admin.query(`drop database if exists "${datname}" with (force)`);
    }
  });
}

/** Drops the databases of `kind` left by processes that no longer exist. */
export function dropOrphanedScratchDatabases(adminUrl: string, kind: string): Promise<void> {
  return dropScratchDatabases(adminUrl, kind, (name) => {
    const pid = Number(new RegExp(`^keelson_${kind}_(\\d+)_`).exec(name)?.[1]);
    return Boolean(pid) && !isAlive(pid);
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
