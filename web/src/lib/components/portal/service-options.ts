import type { ServiceOptions } from '$lib/api/types';

/** What the form holds, as the API takes it: blank fields left out, keys one per line (comments skipped). */
export function readServiceOptions(v: { hostname: string; adminUser: string; sshKeys: string }): ServiceOptions {
  const keys = v.sshKeys
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  return {
    ...(v.hostname.trim() ? { hostname: v.hostname.trim() } : {}),
    ...(v.adminUser.trim() ? { adminUser: v.adminUser.trim() } : {}),
    ...(keys.length ? { sshKeys: keys } : {}),
  };
}

/** The API names a key's problem as `sshKeys.<n>`; the form shows it at the keys. */
export function serviceIssueField(path: string): string | null {
  if (path === 'hostname' || path === 'adminUser' || path === 'sshKeys') return path;
  if (path.startsWith('sshKeys.')) return 'sshKeys';
  return null;
}

export const provisionsServer = (kind: string) => kind === 'proxmox_vm' || kind === 'proxmox_lxc';
