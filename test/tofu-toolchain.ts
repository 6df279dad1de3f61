import type { TofuConfig } from '@keelson/activities/terraform/tofu';
import { TOKEN_ID, TOKEN_SECRET } from '@keelson/proxmox-sim/testing';
import { execFileSync } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// No test-runner imports here: bench/terraform.ts uses it too.

const root = fileURLToPath(new URL('..', import.meta.url));

export const PROXMOX_VM_MODULE = join(root, 'infra/terraform/proxmox-vm');

export interface TofuToolchain {
  /** The real OpenTofu binary, built by scripts/tofu.sh. */
  binary: string;
  /**
   * A CLI config that installs bpg/proxmox from the mirror of the simulator's provider (test
   * scaffolding, scripts/tofu-test-provider.sh) and nothing from the network.
   */
  cliConfigFile: string;
  dir: string;
}

/** Builds (once; cached) tofu and the simulator's provider, and writes a CLI config for them. */
export async function tofuToolchain(): Promise<TofuToolchain> {
  const binary = execFileSync('bash', [join(root, 'scripts/tofu.sh'), 'install'], { encoding: 'utf8' }).trim();
  const mirror = execFileSync('bash', [join(root, 'scripts/tofu-test-provider.sh'), 'mirror'], { encoding: 'utf8' }).trim();
  const dir = await mkdtemp(join(tmpdir(), 'keelson-tofu-'));
  const cliConfigFile = join(dir, 'tofu.tfrc');
  await writeFile(
    cliConfigFile,
    `provider_installation {\n  filesystem_mirror {\n    path    = ${JSON.stringify(mirror)}\n    include = ["registry.opentofu.org/bpg/proxmox"]\n  }\n  direct {\n    exclude = ["registry.opentofu.org/bpg/proxmox"]\n  }\n}\n`,
  );
  return { binary, cliConfigFile, dir };
}


/**
 * How tofu reaches a Proxmox simulator when run by hand, as a worker configures it for a stack:
 * the simulator's endpoint, its API token and its CA (the only one trusted); state in `backendUrl`.
 */
export async function simTofuConfig(toolchain: TofuToolchain, sim: { url: string; caPem: string }, backendUrl: string): Promise<TofuConfig> {
  const ca = join(toolchain.dir, 'sim-ca.pem');
  await writeFile(ca, sim.caPem);
  return {
    binary: toolchain.binary,
    backendUrl,
    cliConfigFile: toolchain.cliConfigFile,
    env: { PROXMOX_VE_ENDPOINT: sim.url, PROXMOX_VE_API_TOKEN: `${TOKEN_ID}=${TOKEN_SECRET}`, SSL_CERT_FILE: ca },
  };
}
