import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// The simulator's own suite needs none of the platform's global setup (Temporal, Postgres,
// Docker images): `npx vitest run --config tools/proxmox-sim/vitest.config.ts` runs it alone.
// The root config runs the same files as part of `npm test`.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  test: {
    include: ['src/**/*.test.ts'],
    exclude: ['src/guests/docker.test.ts'],
    testTimeout: 20_000,
  },
});
