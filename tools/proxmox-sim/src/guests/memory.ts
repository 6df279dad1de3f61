import type { GuestBackend, GuestInterface, GuestSpec } from './types';

export interface MemoryGuestsOptions {
  /**
   * How long after a start the guest agent answers (real guests need a few seconds to boot);
   * `interfaces` returns null until then. Default 0.
   */
  bootDelayMs?: number;
}

interface Machine {
  spec: GuestSpec;
  running: boolean;
  bootedAt: number;
}

/** A MAC in Proxmox's OUI, derived from the vmid so it is stable across starts. */
function macFor(vmid: number): string {
  const bytes = [(vmid >> 16) & 0xff, (vmid >> 8) & 0xff, vmid & 0xff];
  return ['BC', '24', '11', ...bytes.map((byte) => byte.toString(16).padStart(2, '0').toUpperCase())].join(':');
}

/** The address a DHCP server would hand out: stable per vmid, inside 10.10.0.0/16. */
function generatedAddress(vmid: number): { address: string; prefix: number } {
  return { address: `10.10.${Math.floor(vmid / 250) % 250}.${(vmid % 250) + 2}`, prefix: 24 };
}

/** `ip=10.0.0.5/24,gw=…` → the static address; dhcp or nothing → a generated one. */
function addressFor(spec: GuestSpec): { address: string; prefix: number } {
  const ip = /(?:^|,)ip=([^,]+)/.exec(spec.ipConfig ?? '')?.[1];
  const match = ip ? /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(ip) : null;
  return match ? { address: match[1]!, prefix: Number(match[2]) } : generatedAddress(spec.vmid);
}

/**
 * Guests without machines, for protocol tests: starting one only records it, and once "booted"
 * its agent reports a loopback and an eth0 with the configured (or a generated 10.x) address.
 */
export class MemoryGuests implements GuestBackend {
  private readonly machines = new Map<number, Machine>();
  private readonly bootDelayMs: number;

  constructor(options: MemoryGuestsOptions = {}) {
    this.bootDelayMs = options.bootDelayMs ?? 0;
  }

  async start(spec: GuestSpec): Promise<void> {
    const machine = this.machines.get(spec.vmid);
    if (machine?.running) return;
    this.machines.set(spec.vmid, { spec, running: true, bootedAt: Date.now() });
  }

  async stop(vmid: number): Promise<void> {
    const machine = this.machines.get(vmid);
    if (machine) machine.running = false;
  }

  async destroy(vmid: number): Promise<void> {
    this.machines.delete(vmid);
  }

  async interfaces(vmid: number): Promise<GuestInterface[] | null> {
    const machine = this.machines.get(vmid);
    if (!machine?.running || Date.now() - machine.bootedAt < this.bootDelayMs) return null;
    const mac = macFor(vmid);
    const { address, prefix } = addressFor(machine.spec);
    const suffix = mac.toLowerCase().split(':');
    return [
      {
        name: 'lo',
        hardwareAddress: '00:00:00:00:00:00',
        addresses: [
          { address: '127.0.0.1', type: 'ipv4', prefix: 8 },
          { address: '::1', type: 'ipv6', prefix: 128 },
        ],
      },
      {
        name: 'eth0',
        hardwareAddress: mac,
        addresses: [
          { address, type: 'ipv4', prefix },
          { address: `fe80::be24:11ff:fe${suffix[3]}:${suffix[4]}${suffix[5]}`, type: 'ipv6', prefix: 64 },
        ],
      },
    ];
  }

  /** The spec a guest was last started with (what cloud-init would have applied). */
  spec(vmid: number): GuestSpec | undefined {
    return this.machines.get(vmid)?.spec;
  }

  async list(): Promise<number[]> {
    return [...this.machines.keys()];
  }

  async close(): Promise<void> {
    this.machines.clear();
  }
}
