import Docker from 'dockerode';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerGuests } from './docker';
import type { GuestInterface, GuestSpec } from './types';

const run = promisify(execFile);

const docker = new Docker({ socketPath: '/var/run/docker.sock' });
const namespace = `test-${process.pid}`;
const network = `keelson-pve-test-${process.pid}`;

describe('DockerGuests on a real Docker engine', () => {
  let dir: string;
  let key: string;
  let publicKey: string;
  let knownHosts: string;
  let net: string; // the first three octets of this file's /24
  let guests: DockerGuests;

  const vm = (overrides: Partial<GuestSpec> = {}): GuestSpec => ({
    vmid: 101,
    kind: 'qemu',
    name: 'web-1',
    cores: 1,
    memoryMiB: 64,
    user: 'deploy',
    sshKeys: [publicKey],
    ipConfig: `ip=${net}.10/24,gw=${net}.1`,
    ...overrides,
  });

  /** Polls the guest agent with a capped backoff until it reports interfaces. */
  async function waitForAgent(vmid: number, timeoutMs = 20_000): Promise<GuestInterface[]> {
    const until = Date.now() + timeoutMs;
    for (let delay = 50; Date.now() < until; delay = Math.min(delay * 2, 500)) {
      const interfaces = await guests.interfaces(vmid);
      if (interfaces) return interfaces;
      await new Promise((r) => setTimeout(r, delay));
    }
    throw new Error(`guest ${vmid}: agent not up within ${timeoutMs / 1000}s`);
  }

  async function ssh(address: string, command: string, { user = 'deploy', hostKeyChecking = 'no' } = {}): Promise<string> {
    const { stdout } = await run('ssh', [
      ...['-i', key, '-o', `StrictHostKeyChecking=${hostKeyChecking}`, '-o', `UserKnownHostsFile=${knownHosts}`],
      ...['-o', 'BatchMode=yes', '-o', 'ConnectTimeout=5', '-o', 'LogLevel=ERROR'],
      `${user}@${address}`,
      command,
    ]);
    return stdout;
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pve-guest-test-'));
    key = join(dir, 'id_ed25519');
    knownHosts = join(dir, 'known_hosts');
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'keelson-test', '-f', key]);
    publicKey = (await readFile(`${key}.pub`, 'utf8')).trim();
    net = await pickFreeSubnet();
    guests = new DockerGuests({ docker, namespace, network, subnet: `${net}.0/24`, removeOnClose: true });
  });

  afterAll(async () => {
    await guests?.close();
    // Whatever a failed test left behind: this file's containers, then its network.
    const leftovers = await docker.listContainers({ all: true, filters: { label: [`io.keelson.pve-guest.namespace=${namespace}`] } });
    for (const c of leftovers) await docker.getContainer(c.Id).remove({ force: true, v: true });
    await docker
      .getNetwork(network)
      .remove()
      .catch(() => undefined);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('starts a guest at its static address and reports it once sshd answers', async () => {
    await guests.start(vm({ password: 'correct horse' }));

    const interfaces = await waitForAgent(101);
    expect(interfaces.map((i) => i.name)).toEqual(['lo', 'eth0']);
    expect(interfaces[1]!.addresses).toEqual([{ address: `${net}.10`, type: 'ipv4', prefix: 24 }]);
    expect(interfaces[1]!.hardwareAddress).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
    expect(await guests.list()).toEqual([101]);

    const [container] = await docker.listContainers({ filters: { label: [`io.keelson.pve-guest=${namespace}/101`] } });
    const { HostConfig } = await docker.getContainer(container!.Id).inspect();
    expect(HostConfig.NanoCpus).toBe(1e9);
    expect(HostConfig.Memory).toBeGreaterThanOrEqual(64 * 1024 * 1024);
  });

  it('starting a running guest is a no-op', async () => {
    const before = await docker.listContainers({ filters: { label: [`io.keelson.pve-guest=${namespace}/101`] } });
    await guests.start(vm());
    const after = await docker.listContainers({ filters: { label: [`io.keelson.pve-guest=${namespace}/101`] } });
    expect(after.map((c) => c.Id)).toEqual(before.map((c) => c.Id));
  });

  it('lets the cloud-init user in over SSH, with python3 and passwordless sudo', async () => {
    const out = await ssh(`${net}.10`, 'id -un; hostname; python3 --version; sudo -n id -un');
    expect(out.split('\n')).toEqual(['deploy', 'web-1', expect.stringMatching(/^Python 3\.\d+/), 'root', '']);
  });

  it('sets the cloud-init password and does not leave it on the disk', async () => {
    const check = `import crypt; h = next(l for l in open('/etc/shadow') if l.startswith('deploy:')).split(':')[1]; print(crypt.crypt('correct horse', h) == h)`;
    expect(await ssh(`${net}.10`, `sudo -n python3 -W ignore -c "${check}"; sudo -n ls /etc/keelson-guest`)).toBe(
      'True\nauthorized_keys\nuser\n',
    );
  });

  it('is configured by a real ansible-playbook run with become', async () => {
    await writeFile(
      join(dir, 'inventory.ini'),
      `guest ansible_host=${net}.10 ansible_user=deploy ansible_ssh_private_key_file=${key} ansible_python_interpreter=/usr/bin/python3\n`,
    );
    await writeFile(
      join(dir, 'playbook.yml'),
      [
        '- hosts: all',
        '  become: true',
        '  tasks:',
        '    - name: Mark the guest as provisioned',
        '      ansible.builtin.copy:',
        '        dest: /etc/keelson-provisioned',
        '        content: "provisioned by ansible\\n"',
        '        owner: root',
        "        mode: '0644'",
        '',
      ].join('\n'),
    );
    const { stdout } = await run('ansible-playbook', ['-i', join(dir, 'inventory.ini'), join(dir, 'playbook.yml')], {
      env: {
        ...process.env,
        ANSIBLE_HOST_KEY_CHECKING: 'False',
        ANSIBLE_SSH_ARGS: `-o UserKnownHostsFile=${knownHosts} -o ControlMaster=auto -o ControlPersist=30s`,
        ANSIBLE_CONTROL_PATH_DIR: join(dir, 'cp'),
        ANSIBLE_LOCAL_TEMP: join(dir, 'ansible-tmp'),
        ANSIBLE_NOCOLOR: '1',
      },
    });
    expect(stdout).toMatch(/guest\s+: ok=\d+\s+changed=1\s+unreachable=0\s+failed=0/);

    expect(await ssh(`${net}.10`, 'stat -c "%U %a" /etc/keelson-provisioned; cat /etc/keelson-provisioned')).toBe(
      'root 644\nprovisioned by ansible\n',
    );
  });

  it('stop keeps the disk and the host key; start brings the guest back', async () => {
    await guests.stop(101);
    expect(await guests.interfaces(101)).toBeNull();
    expect(await guests.list()).toEqual([101]);
    await guests.stop(101); // already stopped

    await guests.start(vm());
    const interfaces = await waitForAgent(101);
    expect(interfaces[1]!.addresses[0]!.address).toBe(`${net}.10`);
    // Strict checking against the key recorded before the restart: the machine kept its identity.
    expect(await ssh(`${net}.10`, 'cat /etc/keelson-provisioned', { hostKeyChecking: 'yes' })).toBe('provisioned by ansible\n');
  });

  it('moves a stopped guest to its new address when ipconfig changed', async () => {
    await guests.stop(101);
    await guests.start(vm({ ipConfig: `ip=${net}.11/24,gw=${net}.1` }));
    const interfaces = await waitForAgent(101);
    expect(interfaces[1]!.addresses[0]!.address).toBe(`${net}.11`);
    expect(await ssh(`${net}.11`, 'cat /etc/keelson-provisioned')).toBe('provisioned by ansible\n');
  });

  it('lets Docker pick the address for ip=dhcp, and keys go to root without a user', async () => {
    await guests.start(vm({ vmid: 102, kind: 'lxc', name: 'ct-102', user: undefined, ipConfig: 'ip=dhcp' }));
    const [, eth0] = await waitForAgent(102);
    const { address, prefix } = eth0!.addresses[0]!;
    expect(address.startsWith(`${net}.`)).toBe(true);
    expect(prefix).toBe(24);
    expect(await ssh(address, 'id -un; hostname', { user: 'root' })).toBe('root\nct-102\n');
    expect(await guests.list()).toEqual([101, 102]);
  });

  it('keeps namespaces apart: another backend on the same engine sees none of these guests', async () => {
    const other = new DockerGuests({ docker, namespace: `${namespace}-other`, network, subnet: `${net}.0/24` });
    expect(await other.list()).toEqual([]);
    expect(await other.interfaces(101)).toBeNull();
    await other.destroy(101); // unknown to it: a no-op
    expect(await guests.list()).toEqual([101, 102]);
  });

  it('refuses a static address outside the guest network', async () => {
    await expect(guests.start(vm({ vmid: 103, ipConfig: 'ip=198.51.100.5/24,gw=198.51.100.1' }))).rejects.toThrow(
      /198\.51\.100\.5 is outside the guest network/,
    );
    expect(await guests.list()).toEqual([101, 102]);
  });

  it('destroy removes the container and its disk', async () => {
    await guests.destroy(101);
    await guests.destroy(102);
    await guests.destroy(101); // already gone
    expect(await guests.list()).toEqual([]);
    expect(await guests.interfaces(101)).toBeNull();
    const left = await docker.listContainers({ all: true, filters: { label: [`io.keelson.pve-guest.namespace=${namespace}`] } });
    expect(left).toEqual([]);
  });
});

/**
 * A 10.x.y.0/24 that no network on the engine overlaps, so this file can run beside other
 * simulators' guest networks.
 */
async function pickFreeSubnet(): Promise<string> {
  const taken: Array<[number, number]> = [];
  for (const n of await docker.listNetworks()) {
    for (const { Subnet } of n.IPAM?.Config ?? []) {
      const [address, prefix] = (Subnet ?? '').split('/');
      const octets = (address ?? '').split('.').map(Number);
      if (octets.length !== 4 || prefix === undefined) continue; // IPv6
      const start = octets.reduce((a, o) => a * 256 + o, 0);
      taken.push([start, start + 2 ** (32 - Number(prefix)) - 1]);
    }
  }
  for (let attempt = 0; attempt < 100; attempt++) {
    const [x, y] = [200 + Math.floor(Math.random() * 50), Math.floor(Math.random() * 256)];
    const start = 10 * 256 ** 3 + x * 256 ** 2 + y * 256;
    if (taken.every(([a, b]) => start + 255 < a || start > b)) return `10.${x}.${y}`;
  }
  throw new Error('no free 10.x.y.0/24 for the guest network');
}
