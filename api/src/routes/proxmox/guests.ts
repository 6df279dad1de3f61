import { createRoute, z } from '@hono/zod-openapi';
import { requirePermission } from '../../auth/middleware';
import { createRouter } from '../../router';
import { errorResponses, jsonBody, jsonResponse, StartedRunSchema, UuidParam } from '../../schemas';
import { serviceContext } from '../../services/context';
import {
  backupGuest,
  deleteBackupSchedule,
  destroyGuest,
  listGuests,
  powerGuest,
  presentGuest,
  provisionGuest,
  requireGuest,
  resizeGuest,
  rollbackGuest,
  setBackupSchedule,
  snapshotGuest,
} from '../../services/proxmox-guests-service';
import {
  BackupGuestInput,
  BackupScheduleInput,
  BackupScheduleResult,
  DestroyGuestInput,
  GuestListQuery,
  GuestListSchema,
  GuestSchema,
  PowerGuestInput,
  ProvisionBody,
  ProvisionedGuestSchema,
  ResizeGuestInput,
  RollbackGuestInput,
  SnapshotGuestInput,
} from './schema';

const tags = ['proxmox'];
const read = [requirePermission('proxmox.read')];
const manage = [requirePermission('proxmox.manage')];
const run = { 202: jsonResponse(StartedRunSchema, 'The run'), ...errorResponses };

/** A day-two operation: `POST /{id}/<path>` with a body, answered with the run it started. */
const action = <T extends z.ZodType>(path: string, summary: string, body: T) =>
  createRoute({ method: 'post', path: `/{id}/${path}`, tags, summary, middleware: manage, request: { params: UuidParam, body: jsonBody(body) }, responses: run });

const list = createRoute({
  method: 'get',
  path: '/',
  tags,
  summary: 'VMs and containers (destroyed ones on request)',
  middleware: read,
  request: { query: GuestListQuery },
  responses: { 200: jsonResponse(GuestListSchema, 'Guests'), ...errorResponses },
});
const get = createRoute({ method: 'get', path: '/{id}', tags, summary: 'One VM or container', middleware: read, request: { params: UuidParam }, responses: { 200: jsonResponse(GuestSchema, 'The guest'), ...errorResponses } });
const provision = createRoute({
  method: 'post',
  path: '/',
  tags,
  summary: 'Provision a VM or container (starts a vm.provision or lxc.provision run)',
  middleware: manage,
  request: { body: jsonBody(ProvisionBody) },
  responses: { 202: jsonResponse(ProvisionedGuestSchema, 'Recorded as provisioning; the run records the outcome'), ...errorResponses },
});
const power = action('power', 'Start, stop, shut down or reboot (vm.power)', PowerGuestInput);
const resize = action('resize', 'Change cores or memory, grow the disk (vm.resize)', ResizeGuestInput);
const snapshot = action('snapshots', 'Take a snapshot (vm.snapshot)', SnapshotGuestInput);
const rollback = action('rollback', 'Roll back to a snapshot (vm.rollback)', RollbackGuestInput);
const backup = action('backups', 'Back up now, keeping the newest `keep` backups (vm.backup)', BackupGuestInput);
const destroy = action('destroy', "Destroy the guest and its disks; confirmName must be the guest's name (vm.destroy)", DestroyGuestInput);
const putSchedule = createRoute({
  method: 'put',
  path: '/{id}/backup-schedule',
  tags,
  summary: 'Set the backup schedule (a Temporal Schedule running vm.backup)',
  middleware: manage,
  request: { params: UuidParam, body: jsonBody(BackupScheduleInput) },
  responses: { 200: jsonResponse(BackupScheduleResult, 'Set'), ...errorResponses },
});
const deleteSchedule = createRoute({
  method: 'delete',
  path: '/{id}/backup-schedule',
  tags,
  summary: 'Stop scheduled backups (existing backups stay)',
  middleware: manage,
  request: { params: UuidParam },
  responses: { 204: { description: 'Removed' }, ...errorResponses },
});

/** Mounted at /api/proxmox/guests. */
export function proxmoxGuestsRoutes() {
  return createRouter()
    .openapi(list, async (c) => c.json({ items: z.array(GuestSchema).parse(await listGuests(serviceContext(c), c.req.valid('query'))) }, 200))
    .openapi(get, async (c) => c.json(GuestSchema.parse(presentGuest(await requireGuest(serviceContext(c), c.req.valid('param').id))), 200))
    .openapi(provision, async (c) => {
      const { kind, ...input } = c.req.valid('json');
      return c.json(ProvisionedGuestSchema.parse(await provisionGuest(serviceContext(c), kind, input)), 202);
    })
    .openapi(power, async (c) => {
      const body = c.req.valid('json');
      return c.json(await powerGuest(serviceContext(c), c.req.valid('param').id, body.action, body.shutdownTimeoutSeconds), 202);
    })
    .openapi(resize, async (c) => c.json(await resizeGuest(serviceContext(c), c.req.valid('param').id, c.req.valid('json')), 202))
    .openapi(snapshot, async (c) => {
      const body = c.req.valid('json');
      return c.json(await snapshotGuest(serviceContext(c), c.req.valid('param').id, body.snapshot, body.description), 202);
    })
    .openapi(rollback, async (c) => c.json(await rollbackGuest(serviceContext(c), c.req.valid('param').id, c.req.valid('json').snapshot), 202))
    .openapi(backup, async (c) => c.json(await backupGuest(serviceContext(c), c.req.valid('param').id, c.req.valid('json')), 202))
    .openapi(destroy, async (c) => c.json(await destroyGuest(serviceContext(c), c.req.valid('param').id, c.req.valid('json').confirmName), 202))
    .openapi(putSchedule, async (c) => c.json(BackupScheduleResult.parse(await setBackupSchedule(serviceContext(c), c.req.valid('param').id, c.req.valid('json'))), 200))
    .openapi(deleteSchedule, async (c) => {
      await deleteBackupSchedule(serviceContext(c), c.req.valid('param').id);
      return c.body(null, 204);
    });
}
