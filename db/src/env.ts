import { databaseUrlSetting, parseEnv } from '@keelson/common/env';
import { z } from 'zod';

/** Settings of the migrate and seed commands (`npm run db:migrate`, `npm run db:seed`). */
export function loadDbEnv(source: NodeJS.ProcessEnv = process.env) {
  return parseEnv(
    {
      DATABASE_URL: databaseUrlSetting,
    },
    source,
  );
}

/** The first organization and its owner, created by `npm run db:seed` (and by `npm run dev`). */
export function loadSeedEnv(source: NodeJS.ProcessEnv = process.env) {
  return parseEnv(
    {
      DATABASE_URL: databaseUrlSetting,
      KEELSON_ORG_SLUG: z
        .string()
        .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lowercase letters, digits and dashes')
        .default('default'),
      KEELSON_ORG_NAME: z.string().min(1).default('Default organization'),
      KEELSON_ADMIN_EMAIL: z.email().default('admin@keelson.local'),
      KEELSON_ADMIN_PASSWORD: z.string().min(8, 'at least 8 characters').default('keelson-admin'),
    },
    source,
  );
}
export type SeedEnv = ReturnType<typeof loadSeedEnv>;

/** The seed options that the settings describe. */
export function seedOptionsFrom(env: SeedEnv) {
  return {
    orgSlug: env.KEELSON_ORG_SLUG,
    orgName: env.KEELSON_ORG_NAME,
    adminEmail: env.KEELSON_ADMIN_EMAIL,
    adminPassword: env.KEELSON_ADMIN_PASSWORD,
  };
}
