import { createRouter } from '../../router';
import { proxmoxClustersRoutes } from './clusters';
import { proxmoxGuestsRoutes } from './guests';

/** Mounted at /api/proxmox: clusters (admin-managed, they hold API tokens) and their guests. */
export function proxmoxRoutes() {
  return createRouter().route('/clusters', proxmoxClustersRoutes()).route('/guests', proxmoxGuestsRoutes());
}
