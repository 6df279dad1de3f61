import { parseKeyRing } from '@keelson/common/codec';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../test/runs';
import { organizationKeys, tenants } from '../schema';
import { connectDb, type DbHandle } from './client';
import { createPostgresDataKeys } from './data-keys';
import { startEmbeddedPostgres } from './embedded';
import { migrateDb } from './migrate';

const ring = parseKeyRing(`k1:${Buffer.alloc(32, 3).toString('base64')}`);

/** Resolves with the promise's value, or with `'waiting'` if it has not settled within `ms`. */
const within = <T>(promise: Promise<T>, ms: number) => Promise.race([promise, new Promise<'waiting'>((resolve) => setTimeout(() => resolve('waiting'), ms))]);

/**
 * PGlite serves one session: while one connection holds a transaction open, every other
 * connection's query waits for it. A payload sealed inside a transaction (a record and its run's
 * start) must therefore never need the database for its organization's key.
 */
describe('organization data keys on a single-session Postgres', () => {
  let dataDir: string;
  let pg: Awaited<ReturnType<typeof startEmbeddedPostgres>>;
  let holder: DbHandle;
  let lookups: DbHandle;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'keelson-keys-'));
    pg = await startEmbeddedPostgres({ dataDir, port: await freePort() });
    holder = connectDb(pg.url, { max: 1 });
    lookups = connectDb(pg.url, { max: 2 });
    await migrateDb(holder.db);
  }, 120_000);

  afterAll(async () => {
    await holder?.close();
    await lookups?.close();
    await pg?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** Runs `fn` while another connection holds a transaction open, then ends that transaction. */
  async function whileTransactionOpen<T>(fn: () => Promise<T>): Promise<T> {
    let release!: () => void;
    let begun!: () => void;
    const started = new Promise<void>((resolve) => (begun = resolve));
    const tx = holder.db.transaction(async (t) => {
      await t.select().from(tenants).limit(1);
      begun();
      await new Promise<void>((resolve) => (release = resolve));
    });
    await started;
    try {
      return await fn();
    } finally {
      release();
      await tx;
    }
  }

  it('answers a known organization from memory after its version expired, and re-reads it later', async () => {
    const [org] = await lookups.db.insert(tenants).values({ slug: `keys-${Date.now()}`, name: 'Keys' }).returning();
    const keys = createPostgresDataKeys(lookups.db, ring, { activeTtlMs: 0 });
    await keys.warm(org!.id);
    const first = await keys.active(org!.id);
    expect(first.version).toBe(1);

    const answer = await whileTransactionOpen(() => within(keys.active(org!.id), 2_000));
    expect(answer, 'sealing waited for another connection’s transaction').not.toBe('waiting');
    expect(answer).toMatchObject({ version: 1 });

    // Another process rotates: the expired entry is re-read in the background, and then used.
    expect(await createPostgresDataKeys(lookups.db, ring).rotate(org!.id)).toBe(2);
    await keys.active(org!.id);
    await expect.poll(async () => (await keys.active(org!.id)).version, { timeout: 5_000 }).toBe(2);
  });

  it('makes a new organization’s first key when warmed, before any transaction needs it', async () => {
    const [org] = await lookups.db.insert(tenants).values({ slug: `fresh-${Date.now()}`, name: 'Fresh' }).returning();
    const keys = createPostgresDataKeys(lookups.db, ring);
    await keys.warm(org!.id);
    const answer = await whileTransactionOpen(() => within(keys.active(org!.id), 2_000));
    expect(answer).toMatchObject({ version: 1 });
    expect((await lookups.db.select().from(organizationKeys)).filter((k) => k.tenantId === org!.id)).toHaveLength(1);
  });
});
