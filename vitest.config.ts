import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    globalSetup: ['test/global-setup.ts'],
    include: ['{common,db,workflows,activities,workers,api,bench,test,tools}/**/*.test.ts', 'web/src/lib/**/*.test.ts', 'web/e2e/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 180_000,
    pool: 'forks',
    // Two cores: more parallel files only contend for the same Temporal server and Docker engine.
    maxWorkers: 2,
    fileParallelism: true,
  },
});
