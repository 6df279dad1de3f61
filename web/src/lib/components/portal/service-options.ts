import type { ServiceOptions } from '$lib/api/types';

/** What the service-options form holds. */
export interface ServiceOptionsDraft {
  hostname: string;
  adminUser: string;
  sshKeys: string;
  domain: string;
}

export const emptyServiceOptions = (): ServiceOptionsDraft => ({ hostname: '', adminUser: '', sshKeys: '', domain: '' });

/** What the form holds, as the API takes it: blank fields left out, keys one per line (comments skipped). */
export function readServiceOptions(v: ServiceOptionsDraft, kind = 'proxmox_vm'): ServiceOptions {
  const keys = v.sshKeys
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const server = provisionsServer(kind);
  return {
    ...(v.hostname.trim() ? { hostname: v.hostname.trim() } : {}),
    ...(server && v.adminUser.trim() ? { adminUser: v.adminUser.trim() } : {}),
    ...(server && keys.length ? { sshKeys: keys } : {}),
    ...(kind === 'app' && v.domain.trim() ? { domain: v.domain.trim().toLowerCase() } : {}),
  };
}

/** The API names a key's problem as `sshKeys.<n>`; the form shows it at the keys. */
export function serviceIssueField(path: string): string | null {
  if (path === 'hostname' || path === 'adminUser' || path === 'sshKeys' || path === 'domain') return path;
  if (path.startsWith('sshKeys.')) return 'sshKeys';
  return null;
}

/** A VM or Proxmox container: the customer logs in to it. */
export const provisionsServer = (kind: string) => kind === 'proxmox_vm' || kind === 'proxmox_lxc';

/** Plans whose order asks the customer something (a name; a login; an app's domain). */
export const asksForOptions = (kind: string) => provisionsServer(kind) || kind === 'container' || kind === 'app';
