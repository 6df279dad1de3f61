import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

/**
 * Postgres for a machine without one: PGlite (Postgres compiled to WASM) with its data in a
 * folder, served over the wire protocol so every process uses the ordinary `pg` driver.
 */
export async function startEmbeddedPostgres(opts: { dataDir: string; port: number; host?: string }) {
  const pglite = await PGlite.create(opts.dataDir);
  const server = new PGLiteSocketServer({ db: pglite, port: opts.port, host: opts.host ?? '127.0.0.1', maxConnections: 32 });
  await server.start();
  return {
    url: `postgres://postgres@${opts.host ?? '127.0.0.1'}:${opts.port}/postgres`,
    async stop() {
      await server.stop();
      await pglite.close();
    },
  };
}
