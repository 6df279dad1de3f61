import { defineConfig } from 'vitest/config';

// The web app's unit tests: pure modules (the SSE parser, the stream client, the API proxy) run
// in Node against real local HTTP servers. They import each other by relative paths, so the root
// vitest config can run them too without SvelteKit's `$lib` alias.
export default defineConfig({
  test: {
    include: ['src/lib/**/*.test.ts'],
    testTimeout: 20_000,
  },
});
