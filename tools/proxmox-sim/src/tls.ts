import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TlsMaterial {
  /** The simulator's own CA (a PVE cluster has one per cluster); clients pin it. */
  caPem: string;
  certPem: string;
  keyPem: string;
  /** SHA-256 of the server certificate, `AA:BB:…` as PVE shows it in the node list. */
  fingerprint: string;
}

/**
 * Loads the CA and server certificate from `<stateDir>/tls`, creating them with the `openssl`
 * CLI on first start. They are reused afterwards, so a client that pinned the CA keeps trusting
 * the simulator across restarts. The server certificate covers localhost, 127.0.0.1, ::1 and
 * the configured host.
 */
export async function loadOrCreateTls(stateDir: string, host: string): Promise<TlsMaterial> {
  const dir = join(stateDir, 'tls');
  const files = { ca: join(dir, 'pve-root-ca.pem'), cert: join(dir, 'pve-ssl.pem'), key: join(dir, 'pve-ssl.key') };
  if (![files.ca, files.cert, files.key].every((file) => existsSync(file))) await createTls(dir, files, host);
  const [caPem, certPem, keyPem] = await Promise.all([readFile(files.ca, 'utf8'), readFile(files.cert, 'utf8'), readFile(files.key, 'utf8')]);
  return { caPem, certPem, keyPem, fingerprint: new X509Certificate(certPem).fingerprint256 };
}

async function openssl(args: string[]): Promise<void> {
  try {
    await run('openssl', args);
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(`openssl ${args[0]} failed: ${stderr || (error as Error).message}`);
  }
}

async function createTls(dir: string, files: { ca: string; cert: string; key: string }, host: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const caKey = join(dir, 'pve-root-ca.key');
  const csr = join(dir, 'pve-ssl.csr');
  const ext = join(dir, 'pve-ssl.ext');
  const curve = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await openssl([
    'req', '-x509', ...curve, '-keyout', caKey, '-out', files.ca, '-days', '3650', '-sha256',
    '-subj', '/CN=Proxmox Virtual Environment/OU=keelson-proxmox-sim/O=PVE Cluster Manager CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  await openssl(['req', '-new', ...curve, '-keyout', files.key, '-out', csr, '-subj', '/CN=localhost/OU=PVE Cluster Node/O=Proxmox Virtual Environment']);
  const names = new Set(['DNS:localhost', 'IP:127.0.0.1', 'IP:::1']);
  if (host && host !== '0.0.0.0' && host !== '::') names.add(/^[\d.]+$|:/.test(host) ? `IP:${host}` : `DNS:${host}`);
  await writeFile(
    ext,
    [`subjectAltName=${[...names].join(',')}`, 'basicConstraints=CA:FALSE', 'keyUsage=digitalSignature,keyEncipherment', 'extendedKeyUsage=serverAuth'].join('\n'),
  );
  await openssl(['x509', '-req', '-in', csr, '-CA', files.ca, '-CAkey', caKey, '-CAcreateserial', '-out', files.cert, '-days', '730', '-sha256', '-extfile', ext]);
  await Promise.all([rm(csr, { force: true }), rm(ext, { force: true })]);
}
