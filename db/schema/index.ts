export * from './audit';
export * from './containers';
export * from './nodes';
export * from './runs';
export * from './tenancy';
export * from './apps';
export * from './proxmox';
