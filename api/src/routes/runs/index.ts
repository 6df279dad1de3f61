import { createRouter } from '../../router';
import { runActionsRoute } from './actions';
import { getRunRoute } from './get';
import { listRunsRoute } from './list';
import { startRunRoute } from './start';
import { streamRunRoute } from './stream';

/** The runs API: generic over every operation. Mounted at /api/runs. */
export function runsRoutes() {
  return createRouter()
    .route('/', listRunsRoute)
    .route('/', startRunRoute)
    .route('/', streamRunRoute)
    .route('/', runActionsRoute)
    .route('/', getRunRoute);
}
