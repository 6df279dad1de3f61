import { WorkflowId } from '@keelson/common/constants';
import type { Database } from '@keelson/db';
import { terraformRuns, terraformStacks, type StackVariableValue, type TerraformRunKind } from '@keelson/db/schema';
import { ApplicationFailure } from '@temporalio/activity';
import { and, eq } from 'drizzle-orm';
import { randomUUID } from 'node:crypto';
import type { NetworkSettings } from '../proxmox/types';

/**
 * VMs provisioned through Terraform: the provisioning run keeps one stack per guest on Keelson's
 * own `infra/terraform/proxmox-vm` module, the module users run with bpg/proxmox. The stack is an
 * ordinary stack (its runs, state, outputs and drift on the Terraform pages); its name ties it to
 * the guest, so destroying the guest destroys it through Terraform too.
 */

/** The module a guest's stack runs. */
export const GUEST_STACK_MODULE = 'proxmox-vm';

/** The stack of a guest (or of a run that records no guest), by a name nobody else is given. */
export const guestStackName = (owner: { guestId?: string; workflowId: string }) =>
  owner.guestId ? `guest-${owner.guestId}` : `run-${owner.workflowId.replace(/[^a-zA-Z0-9-]+/g, '-')}`;

export interface GuestStackInput {
  tenantId: string;
  /** The provisioning run: its id names the stack when there is no guest record. */
  workflowId: string;
  guestId?: string;
  clusterId: string;
  name: string;
  node: string;
  templateVmid: number;
  cores: number;
  memoryMiB: number;
  diskGiB?: number;
  storage?: string;
  network: NetworkSettings;
  ciUser: string;
  sshPublicKeys: string[];
}

export interface GuestStack {
  stackId: string;
  stackName: string;
}

/** What the module's outputs say about the VM it made. */
export interface GuestStackOutputs {
  vmid: number;
  node: string;
  ip: string | null;
}

const plain = (value: string): StackVariableValue => ({ value });

/** The module's variables for a VM as vmProvision describes it (TF_VAR_ values: lists as JSON). */
export function guestStackVariables(input: GuestStackInput): Record<string, StackVariableValue> {
  const vars: Record<string, StackVariableValue> = {
    name: plain(input.name),
    node_name: plain(input.node),
    template_vm_id: plain(String(input.templateVmid)),
    cores: plain(String(input.cores)),
    memory_mb: plain(String(input.memoryMiB)),
    ipv4_address: plain(input.network.ip),
    username: plain(input.ciUser),
    ssh_public_keys: plain(JSON.stringify(input.sshPublicKeys)),
    description: plain(`Managed by Keelson through Terraform (${input.workflowId})`),
  };
  if (input.diskGiB !== undefined) vars.disk_gib = plain(String(input.diskGiB));
  if (input.storage) vars.datastore_id = plain(input.storage);
  if (input.network.bridge) vars.bridge = plain(input.network.bridge);
  if (input.network.gateway) vars.ipv4_gateway = plain(input.network.gateway);
  return vars;
}

export function createTerraformGuestActivities(deps: { db: Database }) {
  const { db } = deps;

  return {
    /**
     * The guest's stack, made once: a retried call (or a second provisioning attempt of the same
     * guest) finds the one it made and sets the variables again.
     */
    async terraformGuestStack(input: GuestStackInput): Promise<GuestStack> {
      const name = guestStackName(input);
      const variables = guestStackVariables(input);
      const id = randomUUID();
      const [row] = await db
        .insert(terraformStacks)
        .values({ id, tenantId: input.tenantId, name, modulePath: GUEST_STACK_MODULE, proxmoxClusterId: input.clusterId, variables, backendSchema: `tfstate_${id.replace(/-/g, '')}` })
        .onConflictDoUpdate({ target: [terraformStacks.tenantId, terraformStacks.name], set: { variables, updatedAt: new Date() } })
        .returning({ id: terraformStacks.id });
      return { stackId: row!.id, stackName: name };
    },

    /** The guest's stack, if it was provisioned through Terraform. */
    async terraformFindGuestStack({ tenantId, guestId }: { tenantId: string; guestId: string }): Promise<GuestStack | null> {
      const name = guestStackName({ guestId, workflowId: '' });
      const [row] = await db.select({ id: terraformStacks.id }).from(terraformStacks).where(and(eq(terraformStacks.tenantId, tenantId), eq(terraformStacks.name, name)));
      return row ? { stackId: row.id, stackName: name } : null;
    },

    /** Records a run of the stack under the id the calling workflow chose (idempotent). */
    async terraformRecordRun(input: { tenantId: string; stackId: string; runId: string; kind: TerraformRunKind; createdBy: string }): Promise<{ workflowId: string }> {
      const workflowId = WorkflowId.terraformRun(input.stackId, input.runId);
      await db
        .insert(terraformRuns)
        .values({ id: input.runId, tenantId: input.tenantId, stackId: input.stackId, kind: input.kind, workflowId, createdBy: input.createdBy })
        .onConflictDoNothing();
      return { workflowId };
    },

    /** The VM the stack's last apply recorded (`vm_id`, `node_name`, `ipv4_address`). */
    async terraformGuestOutputs({ tenantId, stackId }: { tenantId: string; stackId: string }): Promise<GuestStackOutputs> {
      const [row] = await db.select({ outputs: terraformStacks.outputs }).from(terraformStacks).where(and(eq(terraformStacks.tenantId, tenantId), eq(terraformStacks.id, stackId)));
      const out = row?.outputs ?? {};
      const vmid = Number(out.vm_id?.value);
      const node = out.node_name?.value;
      if (!Number.isInteger(vmid) || typeof node !== 'string') {
        throw ApplicationFailure.nonRetryable(`the stack's outputs name no VM (vm_id ${JSON.stringify(out.vm_id?.value)}, node_name ${JSON.stringify(node)})`, 'TerraformOutputsMissing');
      }
      const ip = out.ipv4_address?.value;
      return { vmid, node, ip: typeof ip === 'string' && ip !== '' ? ip : null };
    },
  };
}

export type TerraformGuestActivities = ReturnType<typeof createTerraformGuestActivities>;
