import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { createTestPlatform, TEST_KEY_SPEC, type TestPlatform } from '../../test/platform';
import { freePort } from '../../test/runs';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** The API as it really starts: its own process, plain Node ESM through tsx, real env parsing. */
describe('API process', () => {
  let p: TestPlatform;
  beforeAll(async () => {
    p = await createTestPlatform();
  });
  afterAll(() => p.close());

  function startApi(env: Record<string, string>) {
    const child = spawn(process.execPath, ['--import', 'tsx', 'api/src/server.ts'], {
      cwd: root,
      env: { PATH: process.env.PATH, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (c: Buffer) => (output += c));
    child.stderr!.on('data', (c: Buffer) => (output += c));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    return { child, exited, output: () => output };
  }

  it('starts, answers health, serves its docs, and stops cleanly on SIGTERM', async () => {
    const port = await freePort();
    const api = startApi({
      DATABASE_URL: p.dbUrl,
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      KEELSON_ENCRYPTION_KEYS: TEST_KEY_SPEC,
      PORT: String(port),
    });
    const base = `http://127.0.0.1:${port}`;
    let health: Response | undefined;
    for (let i = 0; i < 100 && !health; i++) {
      health = await fetch(`${base}/api/health`).catch(() => undefined);
      if (!health) await new Promise((r) => setTimeout(r, 200));
    }
    expect(health?.status, api.output()).toBe(200);
    expect(await health!.json()).toMatchObject({ status: 'ok' });
    expect((await fetch(`${base}/api/openapi.json`)).status).toBe(200);
    expect((await fetch(`${base}/api/runs`)).status).toBe(401);
    api.child.kill('SIGTERM');
    expect(await api.exited).toBe(0);
  });

  it('refuses to start with a message naming each bad setting', async () => {
    const api = startApi({ DATABASE_URL: 'not a url', KEELSON_ENCRYPTION_KEYS: 'k1:tooshort', PORT: '99999' });
    expect(await api.exited).not.toBe(0);
    expect(api.output()).toMatch(/DATABASE_URL/);
    expect(api.output()).toMatch(/KEELSON_ENCRYPTION_KEYS.*32 bytes/);
    expect(api.output()).toMatch(/PORT/);
  });
});
