/**
 * The provisioning form's state and its translations: the request body from a draft (SSH keys
 * one per line, the address as DHCP or static) and the API's issues at the form's fields.
 *
 * Pure and free of Svelte and SvelteKit imports, so Node tests run it.
 */
import type { FieldIssue } from '../../api/request';
import type { GuestKindName, ProvisionGuestBody } from '../../api/types';
import { placeIssues, type PlacedIssues } from '../forms/placed-issues';
import { readWholeNumber } from './issues';

/** Numbers are kept as typed, so a half-typed value stays on screen until it is read. */
export interface GuestDraft {
  clusterId: string;
  kind: GuestKindName;
  name: string;
  /** Empty: the node with the most free memory. */
  node: string;
  cores: string;
  memoryMiB: string;
  /** Empty: the template's size (VM) or 8 GiB (container). */
  diskGiB: string;
  /** One OpenSSH public key a line, as pasted from `~/.ssh/*.pub` files. */
  sshKeys: string;
  user: string;
  ipMode: 'dhcp' | 'static';
  /** Static only: the address with its prefix length (`10.0.0.5/24`). */
  ip: string;
  gateway: string;
  /** Empty: the cluster's default. */
  templateVmid: string;
  ostemplate: string;
  storage: string;
  /** VM only: made by Keelson's Proxmox calls or by Terraform's proxmox-vm module. */
  via: 'api' | 'terraform';
}

/** A new guest's form, with the API's defaults filled in. */
export const emptyGuestDraft = (): GuestDraft => ({
  clusterId: '',
  kind: 'qemu',
  name: '',
  node: '',
  cores: '1',
  memoryMiB: '1024',
  diskGiB: '',
  sshKeys: '',
  user: '',
  ipMode: 'dhcp',
  ip: '',
  gateway: '',
  templateVmid: '',
  ostemplate: '',
  storage: '',
  via: 'api',
});

/**
 * The keys in the text, each with its line number (1-based) so an issue about `sshKeys.2` can
 * point at the line it came from. Blank lines and `#` comments are skipped; Windows line ends
 * and stray spaces around a key are tolerated.
 */
export function sshKeyLines(text: string): Array<{ line: number; key: string }> {
  return text
    .split(/\r?\n/)
    .map((raw, i) => ({ line: i + 1, key: raw.trim() }))
    .filter((l) => l.key && !l.key.startsWith('#'));
}

export interface GuestDraftRead {
  body: ProvisionGuestBody;
  /** Messages by the form's fields, for what could not be read. */
  errors: Record<string, string>;
}

/**
 * The request body for a draft. Only reads what the form holds (whole numbers, at least one key,
 * a static address when static was chosen); the API checks the rest and says so per field.
 * Settings only one kind takes are left out for the other, which the API would refuse.
 */
export function readGuestDraft(d: GuestDraft): GuestDraftRead {
  const errors: Record<string, string> = {};
  const text = (field: keyof GuestDraft, required: boolean) => {
    const v = String(d[field]).trim();
    if (required && !v) errors[field] = 'required';
    return v;
  };
  if (!d.clusterId) errors.clusterId = 'choose a cluster';
  const sshKeys = sshKeyLines(d.sshKeys).map((l) => l.key);
  if (!sshKeys.length) errors.sshKeys = 'add at least one public key, or nobody can log in';

  const ipConfig: ProvisionGuestBody['ipConfig'] = { ip: 'dhcp' };
  if (d.ipMode === 'static') {
    ipConfig.ip = text('ip', true);
    const gateway = text('gateway', false);
    if (gateway) ipConfig.gateway = gateway;
  }

  const body: ProvisionGuestBody = {
    kind: d.kind,
    clusterId: d.clusterId,
    name: text('name', true),
    cores: readWholeNumber(errors, 'cores', d.cores, true)!,
    memoryMiB: readWholeNumber(errors, 'memoryMiB', d.memoryMiB, true)!,
    sshKeys,
    user: text('user', true),
    ipConfig,
    // Containers are always made through the Proxmox API.
    via: d.kind === 'qemu' ? d.via : 'api',
  };
  const node = text('node', false);
  const diskGiB = readWholeNumber(errors, 'diskGiB', d.diskGiB, false);
  const storage = text('storage', false);
  if (node) body.node = node;
  if (diskGiB !== undefined) body.diskGiB = diskGiB;
  if (storage) body.storage = storage;
  if (d.kind === 'qemu') {
    const vmid = readWholeNumber(errors, 'templateVmid', d.templateVmid, false);
    if (vmid !== undefined) body.templateVmid = vmid;
  } else {
    const ostemplate = text('ostemplate', false);
    if (ostemplate) body.ostemplate = ostemplate;
  }
  return { body, errors };
}

const DIRECT = new Set(['clusterId', 'name', 'node', 'cores', 'memoryMiB', 'diskGiB', 'user', 'templateVmid', 'ostemplate', 'storage', 'via']);

/**
 * The API's issues at the form's fields: `sshKeys.<n>` at the keys box, naming the line the key
 * was on; `ipConfig.ip` and `ipConfig.gateway` at the address fields.
 */
export function placeGuestIssues(issues: readonly FieldIssue[], draft: GuestDraft): PlacedIssues {
  const lines = sshKeyLines(draft.sshKeys);
  return placeIssues(issues, ({ path, message }) => {
    if (DIRECT.has(path)) return [path, message];
    if (path === 'sshKeys') return ['sshKeys', message];
    const key = /^sshKeys\.(\d+)$/.exec(path);
    if (key) {
      const line = lines[Number(key[1])]?.line;
      return ['sshKeys', line ? `line ${line}: ${message}` : message];
    }
    if (path === 'ipConfig' || path === 'ipConfig.ip') return [draft.ipMode === 'static' ? 'ip' : 'ipMode', message];
    if (path === 'ipConfig.gateway') return ['gateway', message];
    return undefined;
  });
}
