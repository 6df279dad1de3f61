import type Docker from 'dockerode';
import { createConnection } from 'node:net';
import type { GuestBackend, GuestInterface, GuestSpec } from './types';

/** The image tools/proxmox-sim/guest/build-image.sh builds (scripts/docker.sh ensure runs it). */
export const GUEST_IMAGE = 'keelson/pve-guest:bookworm';

/** `<namespace>/<vmid>` on every guest container: the one label that identifies a guest. */
const guestLabel = 'io.keelson.pve-guest';
/** The namespace alone, because Docker filters labels by exact value only (for list()). */
const namespaceLabel = 'io.keelson.pve-guest.namespace';
const vmidLabel = 'io.keelson.pve-guest.vmid';
/** On a network this backend created, the namespace that created it. */
const networkLabel = 'io.keelson.pve-guest.network';

/** Where the image's entrypoint reads its cloud-init-like seed on every start (guest/entrypoint.sh). */
const seedDir = '/etc/keelson-guest';
/** `qm stop` is a hard stop; sshd exits at once on SIGTERM, so this only bounds a wedged guest. */
const stopGraceSeconds = 3;
/**
 * Tests give guests a few MiB; sshd plus an Ansible module run (a python3 process) needs about a
 * hundred, so smaller requests are raised to this instead of getting the guest OOM-killed.
 */
const minMemoryMiB = 256;
/** How long interfaces() waits for sshd's banner before it reports the agent as not up yet. */
const agentProbeTimeoutMs = 1_000;

export interface DockerGuestsOptions {
  /** The engine that runs the guests. The backend reaches guests at their bridge addresses, so it must be local. */
  docker: Docker;
  /**
   * Keeps the guests of one simulator (or one test file) apart from every other's on the same
   * engine: it is part of each guest's label and container name (`pve-<namespace>-<vmid>`), so
   * it must be a valid container name fragment.
   */
  namespace: string;
  /** A user-defined bridge network the guests join; created when missing. */
  network: string;
  /**
   * The network's IPv4 subnet in CIDR form, e.g. `10.77.0.0/24`. A guest's static `ip=` must
   * lie inside it (its first address is the gateway); `ip=dhcp` lets Docker pick a free one.
   * An existing network with another subnet is an error rather than a surprise.
   */
  subnet: string;
  /** Defaults to {@link GUEST_IMAGE}. */
  image?: string;
  /**
   * When true, close() removes this namespace's guests, and the network if this namespace
   * created it and no other container uses it. By default guests outlive the backend, as VMs
   * outlive a restarted Proxmox API, and list() finds them again.
   */
  removeOnClose?: boolean;
}

/**
 * Runs each guest as a container of the guest image on a bridge network: a started VM or CT has
 * a real IPv4 address with sshd and python3 behind it, so Ansible configures it over SSH. The
 * container's filesystem is the guest's disk — stop keeps it, destroy removes it. The cloud-init
 * settings (user, keys, password) are written into the container before every start and applied
 * by its entrypoint, as Proxmox regenerates the cloud-init drive on every start.
 */
export class DockerGuests implements GuestBackend {
  private readonly docker: Docker;
  private readonly namespace: string;
  private readonly network: string;
  private readonly subnet: Ipv4Subnet;
  private readonly image: string;
  private readonly removeOnClose: boolean;
  private networkReady: Promise<void> | undefined;
  private cpuCount: Promise<number> | undefined;

  constructor(options: DockerGuestsOptions) {
    if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(options.namespace)) {
      throw new Error(`DockerGuests: namespace "${options.namespace}" must be letters, digits, "_", "." or "-"`);
    }
    this.docker = options.docker;
    this.namespace = options.namespace;
    this.network = options.network;
    this.subnet = parseSubnet(options.subnet);
    this.image = options.image ?? GUEST_IMAGE;
    this.removeOnClose = options.removeOnClose ?? false;
  }

  async start(spec: GuestSpec): Promise<void> {
    const address = this.staticAddressOf(spec);
    await this.ensureNetwork();
    let info = await this.find(spec.vmid);
    if (!info) info = await this.create(spec, address);
    const container = this.docker.getContainer(info.Id);
    const inspected = await container.inspect();
    if (inspected.State.Running) return;

    await container.putArchive(seedArchive(spec), { path: seedDir });
    await this.moveToAddress(inspected, address);
    try {
      await container.start();
    } catch (err) {
      if (statusOf(err) === 304) return; // started by a concurrent call
      throw new Error(`guest ${spec.vmid}: Docker could not start its container: ${messageOf(err)}`);
    }
  }

  async stop(vmid: number): Promise<void> {
    const info = await this.find(vmid);
    if (!info) return;
    try {
      await this.docker.getContainer(info.Id).stop({ t: stopGraceSeconds });
    } catch (err) {
      if (statusOf(err) !== 304 && statusOf(err) !== 404) throw err; // 304: already stopped
    }
  }

  async destroy(vmid: number): Promise<void> {
    const info = await this.find(vmid);
    if (!info) return;
    try {
      await this.docker.getContainer(info.Id).remove({ force: true, v: true });
    } catch (err) {
      if (statusOf(err) !== 404 && !/removal .* already in progress/i.test(messageOf(err))) throw err;
    }
  }

  async interfaces(vmid: number): Promise<GuestInterface[] | null> {
    const info = await this.find(vmid);
    if (!info || info.State !== 'running') return null;
    const inspected = await this.docker.getContainer(info.Id).inspect();
    const endpoint = inspected.NetworkSettings.Networks[this.network];
    if (!inspected.State.Running || !endpoint?.IPAddress) return null;
    // The agent is "up" once the guest can be used: when sshd answers with its banner.
    if (!(await answersSsh(endpoint.IPAddress))) return null;

    const eth0: GuestInterface = {
      name: 'eth0',
      hardwareAddress: endpoint.MacAddress,
      addresses: [{ address: endpoint.IPAddress, type: 'ipv4', prefix: endpoint.IPPrefixLen }],
    };
    if (endpoint.GlobalIPv6Address) {
      eth0.addresses.push({ address: endpoint.GlobalIPv6Address, type: 'ipv6', prefix: endpoint.GlobalIPv6PrefixLen });
    }
    const lo: GuestInterface = {
      name: 'lo',
      hardwareAddress: '00:00:00:00:00:00',
      addresses: [{ address: '127.0.0.1', type: 'ipv4', prefix: 8 }],
    };
    return [lo, eth0];
  }

  async list(): Promise<number[]> {
    const containers = await this.docker.listContainers({ all: true, filters: { label: [`${namespaceLabel}=${this.namespace}`] } });
    return containers
      .map((c) => Number(c.Labels[vmidLabel]))
      .filter((vmid) => Number.isInteger(vmid))
      .sort((a, b) => a - b);
  }

  async close(): Promise<void> {
    if (!this.removeOnClose) return;
    for (const vmid of await this.list()) await this.destroy(vmid);
    await this.removeNetworkIfUnused();
  }

  private containerName(vmid: number): string {
    return `pve-${this.namespace}-${vmid}`;
  }

  private async find(vmid: number): Promise<Docker.ContainerInfo | undefined> {
    const list = await this.docker.listContainers({
      all: true,
      filters: { label: [`${guestLabel}=${this.namespace}/${vmid}`] },
    });
    return list[0];
  }

  private async create(spec: GuestSpec, address: string | undefined): Promise<Docker.ContainerInfo> {
    const cpus = Math.min(Math.max(spec.cores, 1), await this.engineCpus());
    const memory = Math.max(spec.memoryMiB, minMemoryMiB) * 1024 * 1024;
    try {
      await this.docker.createContainer({
        name: this.containerName(spec.vmid),
        Image: this.image,
        Hostname: hostnameOf(spec),
        Labels: {
          [guestLabel]: `${this.namespace}/${spec.vmid}`,
          [namespaceLabel]: this.namespace,
          [vmidLabel]: String(spec.vmid),
        },
        HostConfig: {
          NetworkMode: this.network,
          NanoCpus: Math.round(cpus * 1e9),
          Memory: memory,
          Dns: spec.nameserver ? spec.nameserver.split(/[\s,]+/).filter(Boolean) : undefined,
        },
        NetworkingConfig: {
          EndpointsConfig: { [this.network]: { IPAMConfig: address ? { IPv4Address: address } : undefined } },
        },
      });
    } catch (err) {
      // 409: a concurrent start created it first; adopt that one.
      if (statusOf(err) === 404 && /no such image/i.test(messageOf(err))) {
        throw new Error(`guest ${spec.vmid}: image ${this.image} is missing; build it with scripts/docker.sh ensure`);
      }
      if (statusOf(err) !== 409) throw new Error(`guest ${spec.vmid}: Docker refused its container: ${messageOf(err)}`);
    }
    const created = await this.find(spec.vmid);
    if (!created) throw new Error(`guest ${spec.vmid}: container ${this.containerName(spec.vmid)} exists but is not this backend's`);
    return created;
  }

  /**
   * A stopped guest whose `ipconfig0` changed gets its new address on this start, as a VM would
   * from its regenerated cloud-init drive: Docker fixes the address at connect time, so reconnect.
   */
  private async moveToAddress(inspected: Docker.ContainerInspectInfo, address: string | undefined): Promise<void> {
    const endpoint = inspected.NetworkSettings.Networks[this.network];
    const current: string | undefined = endpoint?.IPAMConfig?.IPv4Address || undefined;
    if (endpoint && current === address) return;
    const network = this.docker.getNetwork(this.network);
    if (endpoint) await network.disconnect({ Container: inspected.Id, Force: true });
    await network.connect({ Container: inspected.Id, EndpointConfig: { IPAMConfig: address ? { IPv4Address: address } : undefined } });
  }

  /** The fixed address `ip=…/n` asks for, or undefined for `ip=dhcp` and no ipconfig at all. */
  private staticAddressOf(spec: GuestSpec): string | undefined {
    const ip = parseIpConfig(spec.ipConfig).ip;
    if (!ip || ip === 'dhcp') return undefined;
    const address = ip.split('/')[0]!;
    const value = ipv4ToNumber(address);
    if (value === undefined) throw new Error(`guest ${spec.vmid}: "${ip}" in ipconfig is not an IPv4 address`);
    if (!this.subnet.contains(value)) {
      throw new Error(`guest ${spec.vmid}: ${address} is outside the guest network ${this.network} (${this.subnet.cidr})`);
    }
    return address;
  }

  private ensureNetwork(): Promise<void> {
    this.networkReady ??= this.createNetworkIfMissing().catch((err: unknown) => {
      this.networkReady = undefined; // let the next start try again
      throw err;
    });
    return this.networkReady;
  }

  private async createNetworkIfMissing(): Promise<void> {
    if (await this.checkExistingNetwork()) return;
    try {
      await this.docker.createNetwork({
        Name: this.network,
        Driver: 'bridge',
        CheckDuplicate: true,
        IPAM: { Driver: 'default', Config: [{ Subnet: this.subnet.cidr }] },
        Labels: { [networkLabel]: this.namespace },
      });
    } catch (err) {
      if (statusOf(err) === 409 && (await this.checkExistingNetwork())) return; // created concurrently
      throw new Error(`guest network ${this.network} (${this.subnet.cidr}) could not be created: ${messageOf(err)}`);
    }
  }

  /** True when the network exists with the configured subnet; throws when it has another. */
  private async checkExistingNetwork(): Promise<boolean> {
    let inspected: { IPAM?: { Config?: Array<{ Subnet?: string }> } };
    try {
      inspected = (await this.docker.getNetwork(this.network).inspect()) as typeof inspected;
    } catch (err) {
      if (statusOf(err) === 404) return false;
      throw err;
    }
    const subnets = (inspected.IPAM?.Config ?? []).map((c) => c.Subnet);
    if (!subnets.includes(this.subnet.cidr)) {
      throw new Error(`guest network ${this.network} exists with subnet ${subnets.join(', ') || 'none'}, not ${this.subnet.cidr}`);
    }
    return true;
  }

  private async removeNetworkIfUnused(): Promise<void> {
    const network = this.docker.getNetwork(this.network);
    let labels: Record<string, string> | undefined;
    try {
      labels = ((await network.inspect()) as { Labels?: Record<string, string> }).Labels;
    } catch (err) {
      if (statusOf(err) === 404) return;
      throw err;
    }
    if (labels?.[networkLabel] !== this.namespace) return;
    // Stopped containers are not endpoints, yet they would fail to start without the network.
    const users = await this.docker.listContainers({ all: true, filters: { network: [this.network] } });
    if (users.length > 0) return;
    try {
      await network.remove();
    } catch (err) {
      if (statusOf(err) !== 404) throw err;
    }
  }

  private engineCpus(): Promise<number> {
    this.cpuCount ??= this.docker.info().then((info: { NCPU?: number }) => info.NCPU ?? 1);
    return this.cpuCount;
  }
}

/** `ip=10.0.0.5/24,gw=10.0.0.1` → { ip: '10.0.0.5/24', gw: '10.0.0.1' }. */
function parseIpConfig(ipConfig: string | undefined): Record<string, string> {
  const parts: Record<string, string> = {};
  for (const part of (ipConfig ?? '').split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) parts[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  return parts;
}

interface Ipv4Subnet {
  cidr: string;
  contains(address: number): boolean;
}

function parseSubnet(cidr: string): Ipv4Subnet {
  const [address, prefixText] = cidr.split('/');
  const base = address === undefined ? undefined : ipv4ToNumber(address);
  const prefix = Number(prefixText);
  if (base === undefined || !Number.isInteger(prefix) || prefix < 8 || prefix > 30) {
    throw new Error(`DockerGuests: subnet "${cidr}" is not an IPv4 CIDR such as 10.77.0.0/24`);
  }
  const mask = (~0 << (32 - prefix)) >>> 0;
  if ((base & mask) >>> 0 !== base) throw new Error(`DockerGuests: subnet "${cidr}" has host bits set`);
  return { cidr, contains: (value) => (value & mask) >>> 0 === base };
}

function ipv4ToNumber(address: string): number | undefined {
  const octets = address.split('.');
  if (octets.length !== 4 || !octets.every((o) => /^\d{1,3}$/.test(o) && Number(o) <= 255)) return undefined;
  return octets.reduce((n, o) => n * 256 + Number(o), 0);
}

/** A valid hostname from the guest's name (RFC 1123 label), falling back to `vm<vmid>`. */
function hostnameOf(spec: GuestSpec): string {
  const label = spec.name
    .split('.')[0]!
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63);
  return label || `vm${spec.vmid}`;
}

/** The seed files entrypoint.sh applies: the login, its keys and, when set, its password. */
function seedArchive(spec: GuestSpec): Buffer {
  const files = [
    { name: 'user', content: `${spec.user ?? 'root'}\n` },
    { name: 'authorized_keys', content: spec.sshKeys.map((key) => `${key.trim()}\n`).join('') },
  ];
  if (spec.password) files.push({ name: 'password', content: spec.password });
  return tarArchive(files);
}

/**
 * A ustar archive of small root-owned 0600 files, the format Docker's archive endpoint takes —
 * a few lines here rather than a dependency for one use.
 */
function tarArchive(files: Array<{ name: string; content: string }>): Buffer {
  const blocks: Buffer[] = [];
  const mtime = Math.floor(Date.now() / 1000);
  for (const file of files) {
    const body = Buffer.from(file.content, 'utf8');
    const header = Buffer.alloc(512);
    header.write(file.name, 0, 100, 'utf8');
    header.write(octal(0o600, 8), 100, 'latin1'); // mode
    header.write(octal(0, 8), 108, 'latin1'); // uid
    header.write(octal(0, 8), 116, 'latin1'); // gid
    header.write(octal(body.length, 12), 124, 'latin1');
    header.write(octal(mtime, 12), 136, 'latin1');
    header.fill(' ', 148, 156); // the checksum counts its own field as spaces
    header.write('0', 156, 'latin1'); // a regular file
    header.write('ustar\u000000', 257, 'latin1');
    const checksum = header.reduce((sum, byte) => sum + byte, 0);
    header.write(`${checksum.toString(8).padStart(6, '0')}\u0000 `, 148, 'latin1');
    blocks.push(header, body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024)); // end of archive
  return Buffer.concat(blocks);
}

/** A NUL-terminated octal field of `width` bytes. */
function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, '0')}\u0000`;
}

/** Whether sshd at `host`:22 accepts a connection and sends its `SSH-` banner. */
function answersSsh(host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port: 22 });
    const done = (up: boolean) => {
      socket.destroy();
      resolve(up);
    };
    socket.setTimeout(agentProbeTimeoutMs, () => done(false));
    socket.once('data', (chunk: Buffer) => done(chunk.toString('latin1').startsWith('SSH-')));
    socket.once('error', () => done(false));
    socket.once('close', () => done(false));
  });
}

function statusOf(err: unknown): number | undefined {
  return (err as { statusCode?: number }).statusCode;
}

function messageOf(err: unknown): string {
  const e = err as { json?: { message?: string }; reason?: string; message?: string };
  return e.json?.message ?? e.message ?? String(err);
}

/**
 * A 10.x.y (x in 100–200, apart from other suites' ranges) whose /24 no network on the engine
 * overlaps: a guest network of its own for a test, a bench or a development simulator.
 */
export async function pickFreeSubnet(docker: Docker): Promise<string> {
  const taken: Array<[number, number]> = [];
  for (const n of await docker.listNetworks()) {
    for (const { Subnet } of n.IPAM?.Config ?? []) {
      const [address, prefix] = (Subnet ?? '').split('/');
      const octets = (address ?? '').split('.').map(Number);
      if (octets.length !== 4 || prefix === undefined) continue;
      const start = octets.reduce((a, o) => a * 256 + o, 0);
      taken.push([start, start + 2 ** (32 - Number(prefix)) - 1]);
    }
  }
  for (let attempt = 0; attempt < 100; attempt++) {
    const [x, y] = [100 + Math.floor(Math.random() * 101), Math.floor(Math.random() * 256)];
    const start = 10 * 256 ** 3 + x * 256 ** 2 + y * 256;
    if (taken.every(([a, b]) => start + 255 < a || start > b)) return `10.${x}.${y}`;
  }
  throw new Error('no free 10.x.y.0/24 for the guest network');
}
