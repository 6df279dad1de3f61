import { z } from '@hono/zod-openapi';
import { OPERATIONS, WorkflowId, WorkflowType, type Operation } from '@keelson/common/constants';
import type { Permission } from '@keelson/common/permissions';
import { randomUUID } from 'node:crypto';
import { ForbiddenError, ValidationError } from '../errors';
import { ResourceName } from '../schemas';
import { createContainer, powerContainer, removeContainer } from './containers-service';
import type { ServiceContext } from './context';
import { backupGuest, destroyGuest, powerGuest, provisionGuest, resizeGuest, rollbackGuest, snapshotGuest } from './proxmox-guests-service';
import { GuestOperationInputs, ProvisionGuestInput } from './proxmox-inputs';
import { startWorkflowRun, type StartedRun } from './runs-service';

export const EnvVars = z
  .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'environment variable names are letters, digits and _'), z.string().max(32_768))
  .refine((env) => Object.keys(env).length <= 200, 'at most 200 environment variables');

export const CreateContainerInput = z
  .object({
    name: ResourceName,
    nodeId: z.uuid({ error: 'must be a node id (UUID)' }),
    blueprintId: z.uuid({ error: 'must be a blueprint id (UUID)' }),
    env: EnvVars.default({}),
    logCaptureSeconds: z.number().int().min(0).max(120).default(5),
  })
  .openapi('CreateContainer');

const ContainerRef = z.object({ containerId: z.uuid({ error: 'must be a container id (UUID)' }) });
const PowerInput = ContainerRef.extend({ stopTimeoutSeconds: z.number().int().min(0).max(600).optional() });

export const NoopInput = z.object({
  echo: z.array(z.string().max(10_000)).max(1000).optional(),
  sleepSeconds: z.number().int().min(0).max(86_400).optional(),
  waitForApproval: z.boolean().optional(),
  failWith: z.string().max(500).optional(),
});

interface OperationDef {
  permission: Permission;
  input: z.ZodType;
  start(ctx: ServiceContext, input: never): Promise<StartedRun>;
}

/** Every operation the generic start route (and the start forms) can launch. */
export const operations: Record<Operation, OperationDef> = {
  'system.noop': {
    permission: 'workflow.start',
    input: NoopInput,
    start: (ctx, input: z.infer<typeof NoopInput>) =>
      startWorkflowRun(ctx, { operation: 'system.noop', workflowType: WorkflowType.noop, workflowId: WorkflowId.noop(randomUUID()), input, resources: [] }),
  },
  'container.create': {
    permission: 'container.manage',
    input: CreateContainerInput,
    start: async (ctx, input: z.infer<typeof CreateContainerInput>) => (await createContainer(ctx, input)).run,
  },
  'container.start': {
    permission: 'container.manage',
    input: PowerInput,
    start: (ctx, input: z.infer<typeof PowerInput>) => powerContainer(ctx, input.containerId, 'start'),
  },
  'container.stop': {
    permission: 'container.manage',
    input: PowerInput,
    start: (ctx, input: z.infer<typeof PowerInput>) => powerContainer(ctx, input.containerId, 'stop', input.stopTimeoutSeconds),
  },
  'container.restart': {
    permission: 'container.manage',
    input: PowerInput,
    start: (ctx, input: z.infer<typeof PowerInput>) => powerContainer(ctx, input.containerId, 'restart', input.stopTimeoutSeconds),
  },
  'container.remove': {
    permission: 'container.manage',
    input: ContainerRef,
    start: (ctx, input: z.infer<typeof ContainerRef>) => removeContainer(ctx, input.containerId),
  },
  'vm.provision': {
    permission: 'proxmox.manage',
    input: ProvisionGuestInput,
    start: async (ctx, input: z.infer<typeof ProvisionGuestInput>) => (await provisionGuest(ctx, 'qemu', input)).run,
  },
  'lxc.provision': {
    permission: 'proxmox.manage',
    input: ProvisionGuestInput,
    start: async (ctx, input: z.infer<typeof ProvisionGuestInput>) => (await provisionGuest(ctx, 'lxc', input)).run,
  },
  'vm.power': {
    permission: 'proxmox.manage',
    input: GuestOperationInputs.power,
    start: (ctx, input: z.infer<typeof GuestOperationInputs.power>) => powerGuest(ctx, input.guestId, input.action, input.shutdownTimeoutSeconds),
  },
  'vm.resize': {
    permission: 'proxmox.manage',
    input: GuestOperationInputs.resize,
    start: (ctx, { guestId, ...changes }: z.infer<typeof GuestOperationInputs.resize>) => resizeGuest(ctx, guestId, changes),
  },
  'vm.snapshot': {
    permission: 'proxmox.manage',
    input: GuestOperationInputs.snapshot,
    start: (ctx, input: z.infer<typeof GuestOperationInputs.snapshot>) => snapshotGuest(ctx, input.guestId, input.snapshot, input.description),
  },
  'vm.rollback': {
    permission: 'proxmox.manage',
    input: GuestOperationInputs.rollback,
    start: (ctx, input: z.infer<typeof GuestOperationInputs.rollback>) => rollbackGuest(ctx, input.guestId, input.snapshot),
  },
  'vm.destroy': {
    permission: 'proxmox.manage',
    input: GuestOperationInputs.destroy,
    start: (ctx, input: z.infer<typeof GuestOperationInputs.destroy>) => destroyGuest(ctx, input.guestId, input.confirmName),
  },
  'vm.backup': {
    permission: 'proxmox.manage',
    input: GuestOperationInputs.backup,
    start: (ctx, { guestId, ...options }: z.infer<typeof GuestOperationInputs.backup>) => backupGuest(ctx, guestId, options),
  },
};

/** Validates and starts any operation by name; the caller needs workflow.start and its own permission. */
export async function startOperation(ctx: ServiceContext, name: string, rawInput: unknown): Promise<StartedRun> {
  if (!(OPERATIONS as readonly string[]).includes(name)) {
    throw new ValidationError(`operation: unknown operation "${name}"; known: ${OPERATIONS.join(', ')}`);
  }
  const op = operations[name as Operation];
  if (!ctx.principal.permissions.has(op.permission)) throw new ForbiddenError(`missing permission: ${op.permission}`);
  const parsed = op.input.safeParse(rawInput);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => ({ path: ['input', ...i.path].join('.'), message: i.message }));
    throw new ValidationError(issues.map((i) => `${i.path}: ${i.message}`).join('; '), { issues });
  }
  return op.start(ctx, parsed.data as never);
}

/** JSON Schemas of each operation's input, for start forms. */
export function operationCatalog() {
  return OPERATIONS.map((name) => ({
    name,
    permission: operations[name].permission,
    inputSchema: z.toJSONSchema(operations[name].input, { io: 'input', unrepresentable: 'any' }),
  }));
}
