import { describe, expect, it } from 'vitest';
// The API's own body schemas: what the form sends must be what the API reads.
import { ClusterBody, ClusterPatch } from '../../../../../api/src/routes/proxmox/schema';
import type { ProxmoxCluster } from '../../api/types';
import { clusterChanges, draftFromCluster, emptyClusterDraft, placeClusterIssues, readClusterDraft, type ClusterDraft } from './cluster-draft';

const PEM = '-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----\n';
const SECRET = '0f8e4c1a-3b2d-4e5f-8a9b-1c2d3e4f5a6b';

const filled = (over: Partial<ClusterDraft> = {}): ClusterDraft => ({
  ...emptyClusterDraft(),
  name: 'pve-main',
  url: 'https://pve.example.net:8006',
  tokenId: 'root@pam!keelson',
  tokenSecret: SECRET,
  caPem: PEM,
  ...over,
});

const stored: ProxmoxCluster = {
  id: '0d6b2f3a-6c0e-4a51-b8a5-7b0f1f6a9c21',
  name: 'pve-main',
  url: 'https://pve.example.net:8006',
  tokenId: 'root@pam!keelson',
  caPem: PEM.trim(),
  fingerprint: null,
  defaultTemplateVmid: 9000,
  defaultStorage: 'local-lvm',
  defaultOstemplate: null,
  createdAt: '2025-11-12T10:00:00.000Z',
  updatedAt: '2025-11-12T10:00:00.000Z',
};

describe('readClusterDraft', () => {
  it('reads a filled form into a body the API takes, leaving blank optional settings out', () => {
    const read = readClusterDraft(filled({ defaultTemplateVmid: ' 9000 ' }));
    expect(read.errors).toEqual({});
    expect(ClusterBody.safeParse(read.body).success).toBe(true);
    expect(read.body).toEqual({ name: 'pve-main', url: 'https://pve.example.net:8006', tokenId: 'root@pam!keelson', tokenSecret: SECRET, caPem: PEM.trim(), defaultTemplateVmid: 9000 });
  });

  it('asks for the token secret when adding, not when editing (empty keeps the stored one)', () => {
    expect(readClusterDraft(filled({ tokenSecret: '', name: '', defaultTemplateVmid: '90.5' })).errors).toEqual({ tokenSecret: 'required', name: 'required', defaultTemplateVmid: 'must be a whole number' });
    expect(readClusterDraft(filled({ tokenSecret: '' }), { editing: true }).errors).toEqual({});
  });
});

describe('clusterChanges', () => {
  it('sends nothing for an untouched edit: the draft from a stored cluster reads back to it', () => {
    const read = readClusterDraft(draftFromCluster(stored), { editing: true });
    expect(read.errors).toEqual({});
    expect(clusterChanges(stored, read.body)).toEqual({});
  });

  it('sends what changed, null for a cleared setting, and the secret only when typed', () => {
    const draft = { ...draftFromCluster(stored), url: 'https://pve.example.net:8006/', defaultStorage: '', defaultOstemplate: 'local:vztmpl/debian.tar.zst', tokenSecret: SECRET };
    const changes = clusterChanges(stored, readClusterDraft(draft, { editing: true }).body);
    // The trailing slash is no change: the API stores the URL's origin.
    expect(changes).toEqual({ tokenSecret: SECRET, defaultStorage: null, defaultOstemplate: 'local:vztmpl/debian.tar.zst' });
    expect(ClusterPatch.safeParse(changes).success).toBe(true);
  });
});

describe('placeClusterIssues', () => {
  it("puts the connection check's issue at the field it names, and keeps the rest", () => {
    const placed = placeClusterIssues([
      { path: 'tokenSecret', message: 'Proxmox refused the API token root@pam!keelson (401)' },
      { path: 'caPem', message: 'TLS verification failed' },
      { path: '', message: 'nothing to change' },
    ]);
    expect(placed.byField).toEqual({ tokenSecret: 'Proxmox refused the API token root@pam!keelson (401)', caPem: 'TLS verification failed' });
    expect(placed.rest).toEqual([{ path: '', message: 'nothing to change' }]);
  });
});
