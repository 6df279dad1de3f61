import { loginFailure, type Auth } from '../auth';
import { paramError } from '../http/errors';
import type { Route } from './router';

/** Privileges a full administrator holds, as `cap` in the login reply lists them. */
const ADMIN_CAP = {
  vms: { 'VM.Allocate': 1, 'VM.Audit': 1, 'VM.Backup': 1, 'VM.Clone': 1, 'VM.Config.CDROM': 1, 'VM.Config.CPU': 1, 'VM.Config.Cloudinit': 1, 'VM.Config.Disk': 1, 'VM.Config.HWType': 1, 'VM.Config.Memory': 1, 'VM.Config.Network': 1, 'VM.Config.Options': 1, 'VM.Console': 1, 'VM.Migrate': 1, 'VM.Monitor': 1, 'VM.PowerMgmt': 1, 'VM.Snapshot': 1, 'VM.Snapshot.Rollback': 1, Permissions: { Modify: 1 } },
  storage: { 'Datastore.Allocate': 1, 'Datastore.AllocateSpace': 1, 'Datastore.AllocateTemplate': 1, 'Datastore.Audit': 1, 'Permissions.Modify': 1 },
  access: { 'Group.Allocate': 1, 'Permissions.Modify': 1, 'User.Modify': 1 },
  nodes: { 'Sys.Audit': 1, 'Sys.Console': 1, 'Sys.Modify': 1, 'Sys.PowerMgmt': 1, 'Sys.Syslog': 1, 'Permissions.Modify': 1 },
  dc: { 'Sys.Audit': 1, 'Sys.Modify': 1, 'SDN.Audit': 1, 'SDN.Allocate': 1 },
  sdn: { 'SDN.Allocate': 1, 'SDN.Audit': 1, 'SDN.Use': 1, 'Permissions.Modify': 1 },
  mapping: { 'Mapping.Audit': 1, 'Mapping.Modify': 1, 'Mapping.Use': 1, 'Permissions.Modify': 1 },
};

const AUDIT_CAP = {
  vms: { 'VM.Audit': 1 },
  storage: { 'Datastore.Audit': 1 },
  access: {},
  nodes: { 'Sys.Audit': 1 },
  dc: { 'Sys.Audit': 1 },
  sdn: { 'SDN.Audit': 1 },
  mapping: { 'Mapping.Audit': 1 },
};

export function accessRoutes(auth: Auth): Route[] {
  return [
    {
      method: 'GET',
      path: '/access/ticket',
      params: {},
      unauthenticated: true,
      handler: () => null,
    },
    {
      method: 'POST',
      path: '/access/ticket',
      unauthenticated: true,
      params: {
        username: { type: 'string', maxLength: 64 },
        password: { type: 'string' },
        realm: { type: 'string', optional: true, maxLength: 32 },
        otp: { type: 'string', optional: true },
        path: { type: 'string', optional: true, maxLength: 64 },
        privs: { type: 'string', optional: true },
        'new-format': { type: 'boolean', optional: true },
        'tfa-challenge': { type: 'string', optional: true },
      },
      handler({ params, cluster }) {
        let username = String(params.username);
        if (params.realm !== undefined && !username.includes('@')) username = `${username}@${params.realm}`;
        if (!/^[^\s:/@]+@[A-Za-z][A-Za-z0-9.\-_]+$/.test(username)) {
          throw paramError({ username: `value '${username}' does not look like a valid user name` });
        }
        const user = auth.login(username, String(params.password));
        if (!user) throw loginFailure();
        return {
          username: user.userid,
          ...auth.issueTicket(user.userid),
          cap: user.readonly ? AUDIT_CAP : ADMIN_CAP,
          clustername: cluster.state.clusterName,
        };
      },
    },
  ];
}
