export * from './audit';
export * from './client';
export * from './migrate';
export * from './password';
export * from './scratch-databases';
export * from './seed';
export * from './data-keys';
