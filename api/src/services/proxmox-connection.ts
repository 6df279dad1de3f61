import { connectProxmox } from '@keelson/activities/proxmox/client';
import { parseProxmoxError } from '@keelson/activities/proxmox/errors';
import type { ProxmoxConnection } from '@keelson/activities/proxmox/types';
import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { ValidationError } from '../errors';

/** How long the connection check waits for the cluster before calling it unreachable. */
const CHECK_TIMEOUT_MS = 10_000;

export interface ClusterConnectionCheck {
  /** PVE's version (`8.2.4`…), from GET /version. */
  version: string;
  /** SHA-256 of the certificate the cluster presented, `AA:BB:…`. */
  fingerprint: string;
}

/** `aa bb:CC…` or `aabbcc…` → `AA:BB:CC…`, the form PVE shows. */
export function normalizeFingerprint(value: string): string {
  const hex = value.replace(/[^0-9a-fA-F]/g, '').toUpperCase();
  return hex.match(/.{2}/g)?.join(':') ?? '';
}

const fail = (field: string, message: string) => new ValidationError(`${field}: ${message}`, { issues: [{ path: field, message }] });

/** The PEM must hold a certificate; its problems are named before any connection is tried. */
export function assertCertificatePem(caPem: string): void {
  try {
    new X509Certificate(caPem);
  } catch (err) {
    throw fail('caPem', `not a PEM certificate (${(err as Error).message})`);
  }
}

/**
 * The TLS handshake alone, with only the cluster's CA trusted: says plainly when the certificate
 * does not verify (wrong CA, wrong host name) and which certificate the cluster presented.
 * Verification is never turned off; a failed check is the answer.
 */
function presentedFingerprint(url: URL, caPem: string): Promise<string> {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host, port: Number(url.port || 8006), ca: caPem, ...(isIP(host) ? {} : { servername: host }), timeout: CHECK_TIMEOUT_MS });
    socket.once('secureConnect', () => {
      const fingerprint = socket.getPeerCertificate().fingerprint256;
      socket.end();
      resolve(fingerprint);
    });
    socket.once('timeout', () => {
      socket.destroy();
      reject(fail('url', `no answer from ${url.host} within ${CHECK_TIMEOUT_MS / 1000}s`));
    });
    socket.once('error', (err: Error & { code?: string }) => {
      socket.destroy();
      const code = err.code ?? '';
      if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ALTNAME|SIGNATURE/.test(code)) {
        reject(fail('caPem', `TLS verification failed: the certificate of ${url.host} does not verify against the given CA (${code}: ${err.message})`));
      } else {
        reject(fail('url', `cannot reach ${url.host}: ${err.message}`));
      }
    });
  });
}

/**
 * Checks a cluster's settings the way the workers will use them: TLS against the pinned CA (and
 * the fingerprint, when one is given), then GET /version with the API token through the same
 * pinned client the activities use. Each failure is a 400 naming the setting to fix.
 */
export async function checkClusterConnection(connection: ProxmoxConnection & { fingerprint?: string | null }): Promise<ClusterConnectionCheck> {
  assertCertificatePem(connection.caPem);
  const url = new URL(connection.url);
  const fingerprint = await presentedFingerprint(url, connection.caPem);
  if (connection.fingerprint && normalizeFingerprint(connection.fingerprint) !== fingerprint) {
    throw fail('fingerprint', `TLS fingerprint mismatch: ${url.host} presents a certificate with SHA-256 ${fingerprint}, not ${normalizeFingerprint(connection.fingerprint)}`);
  }
  try {
    const reply = (await connectProxmox(connection).version.$get()) as { version?: string };
    return { version: String(reply?.version ?? 'unknown'), fingerprint };
  } catch (err) {
    const info = parseProxmoxError(err);
    // proxmox-api checks the token's shape itself before sending anything.
    if (info.status === undefined && /invalid token/i.test(info.reason)) throw fail('tokenSecret', `the API token ${connection.tokenId} is malformed: ${info.reason}`);
    if (info.status === 401) throw fail('tokenSecret', `Proxmox refused the API token ${connection.tokenId} (401 ${info.reason || 'authentication failure'}): check the token id and secret`);
    if (info.status === 403) throw fail('tokenId', `the API token ${connection.tokenId} may not read /version (403 ${info.reason})`);
    if (info.status === undefined) throw fail('url', `no answer from ${url.host}: ${info.reason}`);
    throw fail('url', `GET /version on ${url.host} answered ${info.status} ${info.reason}`);
  }
}
