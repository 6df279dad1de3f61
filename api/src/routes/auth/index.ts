import type { Executor } from '@keelson/db';
import { PostgresLimiter } from '../../auth/rate-limit';
import { createRouter } from '../../router';
import { loginRoute } from './login';
import { logoutRoute } from './logout';
import { meRoute } from './me';
import { totpDisableRoute } from './totp-disable';
import { totpEnableRoute } from './totp-enable';
import { totpSetupRoute } from './totp-setup';
import { totpVerifyRoute } from './totp-verify';

/**
 * /api/auth: sign-in, sign-out, the caller, TOTP. Not behind `authenticate` as a whole (login and
 * the second step come before a full session); each route that needs it applies it itself.
 */
export function authRoutes(db: Executor) {
  // Failed password and code attempts, keyed so they never collide, counted in Postgres so every
  // API process shares the same limit.
  const limiter = new PostgresLimiter(db);
  return createRouter()
    .route('/', loginRoute(limiter))
    .route('/', totpVerifyRoute(limiter))
    .route('/', logoutRoute())
    .route('/', meRoute())
    .route('/', totpSetupRoute())
    .route('/', totpEnableRoute())
    .route('/', totpDisableRoute(limiter));
}

export type AuthRoutes = ReturnType<typeof authRoutes>;
