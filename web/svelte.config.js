import adapter from '@sveltejs/adapter-node';
import { vitePreprocess } from '@sveltejs/vite-plugin-svelte';

/** @type {import('@sveltejs/kit').Config} */
const config = {
  preprocess: vitePreprocess(),
  compilerOptions: { runes: true },
  kit: {
    // `node web/build` serves the app; PORT, HOST, ORIGIN and API_URL come from the environment.
    adapter: adapter({ out: 'build' }),
  },
};

export default config;
