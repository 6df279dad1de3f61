/**
 * What the simulator needs from whatever backs its guests. The simulator owns the Proxmox side
 * (VMIDs, configs, locks, tasks); a backend owns the running machine behind a started guest.
 * `DockerGuests` (./docker.ts) runs each guest as a container with sshd and python3, so a started
 * VM has a real address that Ansible can reach; `MemoryGuests` (./memory.ts) runs nothing, for
 * protocol tests.
 */
export interface GuestSpec {
  vmid: number;
  kind: 'qemu' | 'lxc';
  /** The guest's name (QEMU `name`) or hostname (LXC `hostname`). */
  name: string;
  cores: number;
  memoryMiB: number;
  /** cloud-init `ciuser` (QEMU) — the login the SSH keys are installed for; root when unset. */
  user?: string;
  /** cloud-init `cipassword` / LXC `password`, plain text. */
  password?: string;
  /** Public keys, already decoded (one per entry). */
  sshKeys: string[];
  /** `ipconfig0` / the `ip=`/`gw=` parts of LXC `net0`: `ip=dhcp` or `ip=10.0.0.5/24,gw=10.0.0.1`. */
  ipConfig?: string;
  nameserver?: string;
}

export interface GuestInterface {
  name: string;
  hardwareAddress: string;
  addresses: Array<{ address: string; type: 'ipv4' | 'ipv6'; prefix: number }>;
}

export interface GuestBackend {
  /** Starts the guest's machine, creating it on first start; starting a running guest is a no-op. */
  start(spec: GuestSpec): Promise<void>;
  /** Stops it (keeps its disk); stopping a stopped or unknown guest is a no-op. */
  stop(vmid: number): Promise<void>;
  /** Removes the machine and its disk; removing an unknown guest is a no-op. */
  destroy(vmid: number): Promise<void>;
  /** The guest agent's view: its interfaces (loopback first), or null while the agent is not up. */
  interfaces(vmid: number): Promise<GuestInterface[] | null>;
  /** Every vmid this backend has a machine for (the simulator reconciles against its state). */
  list(): Promise<number[]>;
  close(): Promise<void>;
}
