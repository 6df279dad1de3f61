export { createContainerDbActivities, type ContainerDbActivities } from './db/containers';
export { reportNodeHealth } from './db/nodes';
export { createRunLog, createRunLogActivities, type RunLog, type RunLogActivities } from './db/run-log';
export { createDockerActivities, dockerName, type DockerActivities, type DockerContainerSpec } from './docker/index';
export { createReleaseDbActivities, type DeployPlan, type ReleaseDbActivities } from './db/releases';
export { createDeployActivities, type DeployActivities, type EdgeProxy } from './deploy/index';
export { createSourceCheckout, type SourceCheckout } from './git/index';
export { createProxmoxActivities, type ProxmoxActivities } from './proxmox/index';
export { deleteVmBackupSchedule, upsertVmBackupSchedule, vmBackupScheduleId } from './proxmox/schedules';
