import { describe, expect, it } from 'vitest';
// The API's own body schema: what the form sends must be what the API reads.
import { ProvisionBody } from '../../../../../api/src/routes/proxmox/schema';
import { emptyGuestDraft, placeGuestIssues, readGuestDraft, sshKeyLines, type GuestDraft } from './guest-draft';

/** The API's issues for a body, in the shape its 400 carries them. */
function apiIssues(body: unknown) {
  const r = ProvisionBody.safeParse(body);
  return r.success ? [] : r.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
}

const CLUSTER = '4b1c3f1e-8a55-4a43-9a1e-0c5a3d7e2f10';
const KEY_A = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJm3Yb8wq9Yd0u1tX2p6bF0v3o5y7QzZ9qkVt3H0n1aB alice@laptop';
const KEY_B = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHc2m8k9Qx2b7p5n4v3T1y0u9i8o7p6a5s4d3f2g1h0j bob@desk';

const filled = (over: Partial<GuestDraft> = {}): GuestDraft => ({ ...emptyGuestDraft(), clusterId: CLUSTER, name: 'db-1', sshKeys: KEY_A, user: 'alice', ...over });

describe('sshKeyLines', () => {
  it('takes one key a line, skipping blank lines and comments, tolerating CRLF and stray spaces, and remembers each line', () => {
    expect(sshKeyLines(`\n  ${KEY_A}  \r\n# the old laptop\r\n\r\n${KEY_B}\n`)).toEqual([
      { line: 2, key: KEY_A },
      { line: 5, key: KEY_B },
    ]);
    expect(sshKeyLines('  \n# only a comment\n')).toEqual([]);
  });
});

describe('readGuestDraft', () => {
  it('reads a filled VM form into a body the API takes as it is, with DHCP and its defaults spelled out', () => {
    const read = readGuestDraft(filled({ sshKeys: `${KEY_A}\n\n${KEY_B}\n`, diskGiB: '8', cores: '2', memoryMiB: '2048' }));
    expect(read.errors).toEqual({});
    expect(apiIssues(read.body)).toEqual([]);
    // Nothing left for the API to fill in: the form shows every default it would apply.
    expect(ProvisionBody.parse(read.body)).toEqual(read.body);
    expect(read.body).toEqual({
      kind: 'qemu',
      clusterId: CLUSTER,
      name: 'db-1',
      cores: 2,
      memoryMiB: 2048,
      diskGiB: 8,
      sshKeys: [KEY_A, KEY_B],
      user: 'alice',
      ipConfig: { ip: 'dhcp' },
      via: 'api',
    });
  });

  it('sends Terraform as the way to make a VM only: a container is made through the Proxmox API', () => {
    expect(readGuestDraft(filled({ via: 'terraform' })).body).toMatchObject({ kind: 'qemu', via: 'terraform' });
    expect(readGuestDraft(filled({ kind: 'lxc', via: 'terraform' })).body).toMatchObject({ kind: 'lxc', via: 'api' });
  });

  it('sends a static address with its gateway, and leaves the gateway out when blank', () => {
    const withGateway = readGuestDraft(filled({ ipMode: 'static', ip: ' 10.0.0.5/24 ', gateway: '10.0.0.1' }));
    expect(withGateway.body.ipConfig).toEqual({ ip: '10.0.0.5/24', gateway: '10.0.0.1' });
    expect(apiIssues(withGateway.body)).toEqual([]);
    expect(readGuestDraft(filled({ ipMode: 'static', ip: '10.0.0.5/24' })).body.ipConfig).toEqual({ ip: '10.0.0.5/24' });
    // Typed while static, then switched back: DHCP sends no address.
    expect(readGuestDraft(filled({ ipMode: 'dhcp', ip: '10.0.0.5/24', gateway: '10.0.0.1' })).body.ipConfig).toEqual({ ip: 'dhcp' });
  });

  it('sends only the template setting of the chosen kind, which the API would refuse for the other', () => {
    const draft = filled({ templateVmid: '9001', ostemplate: 'local:vztmpl/debian.tar.zst' });
    expect(readGuestDraft(draft).body).toMatchObject({ kind: 'qemu', templateVmid: 9001 });
    expect(readGuestDraft(draft).body).not.toHaveProperty('ostemplate');
    const ct = readGuestDraft({ ...draft, kind: 'lxc' }).body;
    expect(ct).toMatchObject({ kind: 'lxc', ostemplate: 'local:vztmpl/debian.tar.zst' });
    expect(ct).not.toHaveProperty('templateVmid');
    expect(apiIssues(ct)).toEqual([]);
  });

  it('names what it cannot read at its field: no cluster, no keys, blanks, numbers that are not whole, a static address missing', () => {
    const read = readGuestDraft(filled({ clusterId: '', sshKeys: '# none yet\n', name: ' ', user: '', cores: '1.5', memoryMiB: '', diskGiB: 'big', ipMode: 'static' }));
    expect(read.errors).toEqual({
      clusterId: 'choose a cluster',
      sshKeys: 'add at least one public key, or nobody can log in',
      name: 'required',
      user: 'required',
      cores: 'must be a whole number',
      memoryMiB: 'required',
      diskGiB: 'must be a whole number',
      ip: 'required',
    });
  });
});

describe('placeGuestIssues', () => {
  it("puts the API's issues at the form's fields, a bad key at the line it was typed on", () => {
    const draft = filled({ sshKeys: `# mine\n${KEY_A}\nnot a key\n`, user: 'root', cores: '0', ipMode: 'static', ip: '10.0.0.5', gateway: 'nope' });
    const read = readGuestDraft(draft);
    const placed = placeGuestIssues(apiIssues(read.body), draft);
    expect(placed.rest).toEqual([]);
    expect(Object.keys(placed.byField).sort()).toEqual(['cores', 'gateway', 'ip', 'sshKeys', 'user']);
    expect(placed.byField.sshKeys).toBe('line 3: an OpenSSH public key line (ssh-ed25519 AAAA… comment)');
    expect(placed.byField.user).toBe('root cannot be the admin user');
    expect(placed.byField.ip).toMatch(/prefix length/);
  });

  it('keeps what it has no field for, and places the service’s own issues (templateVmid, clusterId)', () => {
    const placed = placeGuestIssues(
      [
        { path: 'templateVmid', message: 'cluster "main" has no default template; name one' },
        { path: 'clusterId', message: 'no such cluster in this organization' },
        { path: 'tags.0', message: 'a Proxmox tag' },
      ],
      filled(),
    );
    expect(placed.byField).toEqual({ templateVmid: 'cluster "main" has no default template; name one', clusterId: 'no such cluster in this organization' });
    expect(placed.rest).toEqual([{ path: 'tags.0', message: 'a Proxmox tag' }]);
  });
});
