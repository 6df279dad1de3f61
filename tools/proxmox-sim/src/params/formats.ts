import { isIPv4, isIPv6 } from 'node:net';
import type { FormatCheck } from './schema';

/**
 * The string formats PVE checks inside parameter values: property strings (`net0`, `ipconfig0`,
 * disks), addresses, SSH keys and sizes. Each returns the reason a value is invalid.
 */

function isCidr(value: string, family: 4 | 6): boolean {
  const [address, prefix, ...rest] = value.split('/');
  if (rest.length > 0 || address === undefined || prefix === undefined || !/^\d+$/.test(prefix)) return false;
  const max = family === 4 ? 32 : 128;
  return (family === 4 ? isIPv4(address) : isIPv6(address)) && Number(prefix) <= max;
}

const MAC = /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/;

/** Parses `key=value,key=value` (with an optional leading key-less value) into a map. */
export function parsePropertyString(value: string, defaultKey?: string): Map<string, string> {
  const result = new Map<string, string>();
  for (const part of value.split(',')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    if (eq === -1) {
      if (defaultKey && !result.has(defaultKey)) result.set(defaultKey, part);
      else result.set(part, '');
    } else {
      result.set(part.slice(0, eq), part.slice(eq + 1));
    }
  }
  return result;
}

export function formatPropertyString(entries: Map<string, string>, defaultKey?: string): string {
  const parts: string[] = [];
  for (const [key, value] of entries) parts.push(key === defaultKey ? value : `${key}=${value}`);
  return parts.join(',');
}

type KeyCheck = (value: string) => string | undefined;

interface PropertyStringSpec {
  defaultKey?: string;
  keys: Record<string, KeyCheck>;
  required?: string[];
  /** Checks spanning keys (QEMU's `model=mac` shorthand for network devices). */
  custom?: (entries: Map<string, string>) => string | undefined;
}

/** A format check for a property string, worded like PVE's `format error` replies. */
export function propertyString(spec: PropertyStringSpec): FormatCheck {
  return (value, param) => {
    const entries = parsePropertyString(value, spec.defaultKey);
    const custom = spec.custom?.(entries);
    if (custom) return custom;
    for (const [key, item] of entries) {
      const check = spec.keys[key];
      if (!check) return `format error ${param}.${key}: property is not defined in schema and the schema does not allow additional properties`;
      const reason = check(item);
      if (reason) return `format error ${param}.${key}: ${reason}`;
    }
    for (const key of spec.required ?? []) {
      if (!entries.has(key)) return `format error ${param}.${key}: property is missing and it is not optional`;
    }
    return undefined;
  };
}

const any: KeyCheck = () => undefined;
const bool: KeyCheck = (v) => (v === '1' || v === '0' ? undefined : `type check ('boolean') failed - got '${v}'`);
const integer =
  (minimum?: number, maximum?: number): KeyCheck =>
  (v) => {
    if (!/^\d+$/.test(v)) return `type check ('integer') failed - got '${v}'`;
    if (minimum !== undefined && Number(v) < minimum) return `value must have a minimum value of ${minimum}`;
    if (maximum !== undefined && Number(v) > maximum) return `value must have a maximum value of ${maximum}`;
    return undefined;
  };
const mac: KeyCheck = (v) => (MAC.test(v) ? undefined : 'value does not look like a valid MAC address');
const enumOf =
  (...values: string[]): KeyCheck =>
  (v) =>
    values.includes(v) ? undefined : `value '${v}' does not have a value in the enumeration '${values.join(', ')}'`;
const ipv4Cidr: KeyCheck = (v) => (v === 'dhcp' || isCidr(v, 4) ? undefined : 'value does not look like a valid ipv4 network configuration');
const ipv6Cidr: KeyCheck = (v) =>
  v === 'dhcp' || v === 'auto' || v === 'manual' || isCidr(v, 6) ? undefined : 'value does not look like a valid ipv6 network configuration';
const ipv4: KeyCheck = (v) => (isIPv4(v) ? undefined : 'value does not look like a valid IPv4 address');
const ipv6: KeyCheck = (v) => (isIPv6(v) ? undefined : 'value does not look like a valid IPv6 address');
export const diskSize: KeyCheck = (v) => (/^\d+(\.\d+)?[KMGT]?$/.test(v) ? undefined : 'value does not match the regex pattern');

const QEMU_NIC_MODELS = ['e1000', 'e1000e', 'rtl8139', 'virtio', 'vmxnet3'];

export const qemuNet = propertyString({
  keys: {
    model: enumOf(...QEMU_NIC_MODELS),
    macaddr: mac,
    bridge: (v) => (/^[-_.\w\d]+$/.test(v) ? undefined : 'value does not match the regex pattern'),
    firewall: bool,
    link_down: bool,
    mtu: integer(1, 65520),
    queues: integer(0, 64),
    rate: (v) => (/^\d+(\.\d+)?$/.test(v) ? undefined : `type check ('number') failed - got '${v}'`),
    tag: integer(1, 4094),
    trunks: any,
    ...Object.fromEntries(QEMU_NIC_MODELS.map((model) => [model, (v: string) => (v === '' ? undefined : mac(v))])),
  },
  custom: (entries) => {
    // `virtio=BC:24:11:…` is shorthand for model=virtio,macaddr=…; exactly one model is needed.
    const models = [...entries.keys()].filter((key) => QEMU_NIC_MODELS.includes(key));
    if (models.length === 0 && !entries.has('model')) return 'format error net.model: property is missing and it is not optional';
    if (models.length > 1) return 'format error net.model: duplicate model';
    return undefined;
  },
});

export const ipConfig = propertyString({ keys: { ip: ipv4Cidr, gw: ipv4, ip6: ipv6Cidr, gw6: ipv6 } });

export const lxcNet = propertyString({
  keys: {
    name: (v) => (/^[-_.\w\d]+$/.test(v) ? undefined : 'value does not match the regex pattern'),
    bridge: any,
    hwaddr: mac,
    ip: (v) => (v === 'dhcp' || v === 'manual' || isCidr(v, 4) ? undefined : 'value does not look like a valid ipv4 network configuration'),
    gw: ipv4,
    ip6: ipv6Cidr,
    gw6: ipv6,
    firewall: bool,
    link_down: bool,
    mtu: integer(64),
    rate: any,
    tag: integer(1, 4094),
    trunks: any,
    type: enumOf('veth'),
  },
  required: ['name'],
});

/** QEMU disks: a volume (`local-lvm:vm-100-disk-0`), an allocation (`local-lvm:32`) or `none`. */
export const qemuDisk = propertyString({
  defaultKey: 'file',
  keys: {
    file: (v) => (v === 'none' || /^[a-z][a-z0-9\-_.]*[a-z0-9]:.+$/i.test(v) ? undefined : "unable to parse volume ID"),
    size: diskSize,
    media: enumOf('cdrom', 'disk'),
    format: enumOf('raw', 'qcow2', 'vmdk', 'cloop', 'cow', 'qcow', 'qed'),
    cache: enumOf('none', 'writethrough', 'writeback', 'unsafe', 'directsync'),
    discard: enumOf('ignore', 'on'),
    ssd: bool,
    iothread: bool,
    backup: bool,
    replicate: bool,
    aio: enumOf('native', 'threads', 'io_uring'),
    import_from: any,
    serial: any,
  },
});

export const lxcRootfs = propertyString({
  defaultKey: 'volume',
  keys: {
    volume: (v) => (/^[a-z][a-z0-9\-_.]*[a-z0-9]:.+$/i.test(v) ? undefined : 'unable to parse volume ID'),
    size: diskSize,
    acl: bool,
    quota: bool,
    replicate: bool,
    ro: bool,
    shared: bool,
    backup: bool,
    mountoptions: any,
  },
});

export const qemuMemory = propertyString({ defaultKey: 'current', keys: { current: integer(16) } });
export const qemuAgent = propertyString({
  defaultKey: 'enabled',
  keys: { enabled: bool, fstrim_cloned_disks: bool, 'freeze-fs-on-backup': bool, type: enumOf('virtio', 'isa') },
});

export const dnsName: FormatCheck = (v) =>
  /^([a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)(\.[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)*$/.test(v) ? undefined : 'value does not look like a valid DNS name';
export const storageId: FormatCheck = (v) => (/^[a-z][a-z0-9\-_.]*[a-z0-9]$/i.test(v) ? undefined : `storage ID '${v}' contains illegal characters`);
export const configId: FormatCheck = (v) => (/^[a-z][a-z0-9_-]+$/i.test(v) ? undefined : `invalid configuration ID '${v}'`);
export const configIdList: FormatCheck = (v) => {
  for (const id of splitList(v)) if (!/^[a-z][a-z0-9_]*$/i.test(id)) return `invalid configuration ID '${id}'`;
  return undefined;
};
export const vmidList: FormatCheck = (v) => {
  for (const id of splitList(v)) if (!/^\d+$/.test(id) || Number(id) < 100) return `value '${id}' does not look like a valid VM ID`;
  return undefined;
};
export const addressList: FormatCheck = (v) => {
  for (const address of splitList(v)) if (!isIPv4(address) && !isIPv6(address)) return `value does not look like a valid IP address`;
  return undefined;
};

/** PVE's split_list: commas, semicolons, whitespace and NULs all separate. */
export function splitList(value: string): string[] {
  return value.split(/[\0;,\s]+/).filter((item) => item !== '');
}

const SSH_KEY = /^(ssh-(rsa|dss|ed25519)|ecdsa-sha2-nistp(256|384|521)|sk-(ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com) [A-Za-z0-9+/]+={0,3}( .*)?$/;

/** Public keys, one per line (empty lines and comments ignored). */
export function parseSshKeys(text: string): { keys: string[]; invalid?: string } {
  const keys: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    const key = line.trim();
    if (key === '' || key.startsWith('#')) continue;
    if (!SSH_KEY.test(key)) return { keys, invalid: key };
    keys.push(key);
  }
  return { keys };
}

/**
 * QEMU's `sshkeys` arrive URL-encoded (`encodeURIComponent`, so `+` stays `%2B`); the server
 * stores them encoded and decodes for cloud-init.
 */
export function decodeQemuSshKeys(value: string): string[] | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(value);
  } catch {
    return undefined;
  }
  const { keys, invalid } = parseSshKeys(decoded);
  return invalid === undefined ? keys : undefined;
}

/**
 * PVE's `urlencoded` format (pve_verify_urlencoded): only the characters `encodeURIComponent`
 * leaves alone, and `%`. A key sent as plain text (spaces, `+`, `/`, `=`, `@`) is refused before
 * anything looks at the keys themselves.
 */
const URLENCODED = /^[-%a-zA-Z0-9_.!~*'()]*$/;

export const qemuSshKeys: FormatCheck = (v) => {
  if (!URLENCODED.test(v)) return `invalid urlencoded string: ${v}`;
  let decoded: string;
  try {
    decoded = decodeURIComponent(v);
  } catch {
    return `invalid urlencoded string: ${v}`;
  }
  const { invalid } = parseSshKeys(decoded);
  return invalid === undefined ? undefined : `invalid SSH key: ${invalid.slice(0, 40)}`;
};

export const plainSshKeys: FormatCheck = (v) => {
  const { invalid } = parseSshKeys(v);
  return invalid === undefined ? undefined : `invalid SSH key: ${invalid.slice(0, 40)}`;
};

const UNITS: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

/** `32G`, `512M`, `1.5T`, plain bytes → bytes. */
export function parseSize(value: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)([KMGT]?)$/.exec(value);
  if (!match) return undefined;
  return Math.round(Number(match[1]) * UNITS[match[2]!]!);
}

/** Bytes → the largest whole unit, as PVE writes `size=` (`32G`, `2560M`). */
export function formatSize(bytes: number): string {
  for (const unit of ['T', 'G', 'M', 'K']) {
    const factor = UNITS[unit]!;
    if (bytes % factor === 0) return `${bytes / factor}${unit}`;
  }
  return String(bytes);
}
