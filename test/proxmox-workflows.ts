// The workflows the Proxmox tests bundle for their own worker (the shared bundle is built from
// workflows/index.ts, which does not list them yet).
export { vmProvision } from '../workflows/vm-provision';
export { lxcProvision } from '../workflows/lxc-provision';
export { vmPower, vmResize, vmSnapshot, vmRollback, vmDeleteSnapshot, vmDestroy, vmBackup } from '../workflows/vm-lifecycle';
