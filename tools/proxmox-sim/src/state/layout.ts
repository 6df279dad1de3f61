import { randomBytes, randomUUID } from 'node:crypto';
import type { GuestRecord, NodeRecord, SimState, StorageRecord, TokenRecord, UserRecord, VolumeRecord } from './model';

/** One cluster node. */
export interface NodeLayout {
  name: string;
  cpus?: number;
  memoryGiB?: number;
  /** Starts offline (as if powered off); toggle later through the control API. */
  online?: boolean;
}

/** A storage, present on every node (or one shared storage when `shared`). */
export interface StorageLayout {
  storage: string;
  type: StorageRecord['type'];
  content: string[];
  shared?: boolean;
  sizeGiB?: number;
}

/** A QEMU template VM (cloud image with cloud-init and the guest agent enabled). */
export interface TemplateLayout {
  vmid: number;
  name: string;
  node?: string;
  storage?: string;
  diskGiB?: number;
}

export interface ClusterLayout {
  nodes: NodeLayout[];
  storages: StorageLayout[];
  templates: TemplateLayout[];
  /** LXC ostemplates placed on each node's `vztmpl` storage, e.g. `debian-12-standard_12.7-1_amd64.tar.zst`. */
  ostemplates: string[];
}

export const DEFAULT_LAYOUT: ClusterLayout = {
  nodes: [{ name: 'pve', cpus: 16, memoryGiB: 64 }],
  storages: [
    { storage: 'local', type: 'dir', content: ['iso', 'vztmpl', 'backup', 'snippets'], sizeGiB: 100 },
    { storage: 'local-lvm', type: 'lvmthin', content: ['images', 'rootdir'], sizeGiB: 500 },
  ],
  templates: [{ vmid: 9000, name: 'debian-12-cloud', diskGiB: 2 }],
  ostemplates: ['debian-12-standard_12.7-1_amd64.tar.zst', 'ubuntu-24.04-standard_24.04-2_amd64.tar.zst'],
};

const GiB = 1024 ** 3;

/** A MAC in Proxmox's own OUI, as PVE generates them. */
export function generateMac(): string {
  const tail = [...randomBytes(3)].map((byte) => byte.toString(16).padStart(2, '0').toUpperCase());
  return ['BC', '24', '11', ...tail].join(':');
}

function templateGuest(template: TemplateLayout, node: string, storage: string, ctime: number): GuestRecord {
  const disk = `${storage}:base-${template.vmid}-disk-0,size=${template.diskGiB ?? 2}G`;
  return {
    vmid: template.vmid,
    type: 'qemu',
    node,
    status: 'stopped',
    snapshots: [],
    secrets: {},
    config: {
      name: template.name,
      template: 1,
      agent: '1',
      boot: 'order=scsi0',
      cores: 2,
      sockets: 1,
      cpu: 'x86-64-v2-AES',
      memory: '2048',
      ostype: 'l26',
      scsihw: 'virtio-scsi-single',
      scsi0: disk,
      ide2: `${storage}:vm-${template.vmid}-cloudinit,media=cdrom`,
      net0: `virtio=${generateMac()},bridge=vmbr0`,
      serial0: 'socket',
      vga: 'serial0',
      ipconfig0: 'ip=dhcp',
      smbios1: `uuid=${randomUUID()}`,
      vmgenid: randomUUID(),
      meta: `creation-qemu=9.0.2,ctime=${Math.floor(ctime / 1000)}`,
    },
  };
}

/** A fresh cluster from a layout and the configured users and tokens. */
export function createInitialState(layout: ClusterLayout, users: UserRecord[], tokens: TokenRecord[], now = Date.now()): SimState {
  if (layout.nodes.length === 0) throw new Error('layout.nodes: at least one node is required');
  const nodes: NodeRecord[] = layout.nodes.map((node) => ({
    name: node.name,
    online: node.online ?? true,
    cpus: node.cpus ?? 16,
    memoryBytes: (node.memoryGiB ?? 64) * GiB,
    rootfsBytes: 100 * GiB,
    bootedAt: now - 3 * 24 * 3600 * 1000,
  }));
  const storages: StorageRecord[] = layout.storages.map((storage) => ({
    storage: storage.storage,
    type: storage.type,
    content: storage.content,
    shared: storage.shared ?? false,
    totalBytes: (storage.sizeGiB ?? 100) * GiB,
  }));
  const volumes: VolumeRecord[] = [];
  const templateStore = storages.find((storage) => storage.content.includes('vztmpl'));
  if (templateStore) {
    for (const node of templateStore.shared ? [null] : nodes.map((n) => n.name)) {
      for (const file of layout.ostemplates) {
        volumes.push({
          volid: `${templateStore.storage}:vztmpl/${file}`,
          storage: templateStore.storage,
          node,
          content: 'vztmpl',
          format: file.endsWith('.tar.zst') ? 'tzst' : 'tgz',
          size: 130 * 1024 * 1024,
          ctime: Math.floor(now / 1000) - 86400,
        });
      }
    }
  }
  const imageStore = storages.find((storage) => storage.content.includes('images'));
  const guests = layout.templates.map((template) => {
    const storage = template.storage ?? imageStore?.storage;
    if (!storage) throw new Error(`layout.templates: no storage for images to hold template ${template.vmid}`);
    return templateGuest(template, template.node ?? nodes[0]!.name, storage, now);
  });
  return {
    schema: 1,
    secret: randomBytes(32).toString('hex'),
    clusterName: 'keelson-sim',
    nodes,
    storages,
    volumes,
    guests,
    tasks: [],
    users,
    tokens,
    lastPid: 100_000 + Math.floor(Math.random() * 100_000),
  };
}
