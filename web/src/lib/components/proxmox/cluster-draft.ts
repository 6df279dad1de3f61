/**
 * The cluster form's state and its translations: a draft from a stored cluster, the request body
 * from a draft, the changes an edit sends, and the API's issues at the form's fields.
 *
 * Pure and free of Svelte and SvelteKit imports, so Node tests run it.
 */
import type { FieldIssue } from '../../api/request';
import type { ProxmoxCluster, ProxmoxClusterInput, ProxmoxClusterPatch } from '../../api/types';
import { placeIssues, type PlacedIssues } from '../forms/placed-issues';
import { readWholeNumber } from './issues';

/** Everything as typed; the token secret is never shown, so an edit starts with it empty. */
export interface ClusterDraft {
  name: string;
  url: string;
  tokenId: string;
  tokenSecret: string;
  caPem: string;
  fingerprint: string;
  defaultTemplateVmid: string;
  defaultStorage: string;
  defaultOstemplate: string;
}

export const CLUSTER_FIELDS = ['name', 'url', 'tokenId', 'tokenSecret', 'caPem', 'fingerprint', 'defaultTemplateVmid', 'defaultStorage', 'defaultOstemplate'] as const;
const OPTIONAL = ['fingerprint', 'defaultTemplateVmid', 'defaultStorage', 'defaultOstemplate'] as const;

export const emptyClusterDraft = (): ClusterDraft => ({
  name: '',
  url: '',
  tokenId: '',
  tokenSecret: '',
  caPem: '',
  fingerprint: '',
  defaultTemplateVmid: '',
  defaultStorage: '',
  defaultOstemplate: '',
});

export function draftFromCluster(c: ProxmoxCluster): ClusterDraft {
  return {
    name: c.name,
    url: c.url,
    tokenId: c.tokenId,
    tokenSecret: '',
    caPem: c.caPem,
    fingerprint: c.fingerprint ?? '',
    defaultTemplateVmid: c.defaultTemplateVmid === null ? '' : String(c.defaultTemplateVmid),
    defaultStorage: c.defaultStorage ?? '',
    defaultOstemplate: c.defaultOstemplate ?? '',
  };
}

export interface ClusterDraftRead {
  body: ProxmoxClusterInput;
  /** Messages by field, for what could not be read. */
  errors: Record<string, string>;
}

/**
 * The request body for a draft: blanks of optional settings left out, the CA kept as pasted
 * (PEM needs its line breaks). With `editing`, an empty token secret means "keep the stored one".
 */
export function readClusterDraft(d: ClusterDraft, opts: { editing?: boolean } = {}): ClusterDraftRead {
  const errors: Record<string, string> = {};
  const text = (field: keyof ClusterDraft, required: boolean) => {
    const v = d[field].trim();
    if (required && !v) errors[field] = 'required';
    return v;
  };
  const body: ProxmoxClusterInput = {
    name: text('name', true),
    url: text('url', true),
    tokenId: text('tokenId', true),
    tokenSecret: text('tokenSecret', !opts.editing),
    caPem: text('caPem', true),
  };
  const fingerprint = text('fingerprint', false);
  const vmid = readWholeNumber(errors, 'defaultTemplateVmid', d.defaultTemplateVmid, false);
  const storage = text('defaultStorage', false);
  const ostemplate = text('defaultOstemplate', false);
  if (fingerprint) body.fingerprint = fingerprint;
  if (vmid !== undefined) body.defaultTemplateVmid = vmid;
  if (storage) body.defaultStorage = storage;
  if (ostemplate) body.defaultOstemplate = ostemplate;
  return { body, errors };
}

/**
 * What an edit sends: only what differs from the stored cluster (the API checks a changed
 * connection again, and the audit log names what changed). A cleared optional setting is `null`;
 * the token secret goes only when one was typed.
 */
export function clusterChanges(c: ProxmoxCluster, body: ProxmoxClusterInput): ProxmoxClusterPatch {
  const changes: Record<string, unknown> = {};
  for (const field of ['name', 'tokenId', 'caPem'] as const) if (body[field] !== c[field]) changes[field] = body[field];
  // The API stores the URL's origin: a trailing slash is no change.
  if (body.url.replace(/\/+$/, '') !== c.url) changes.url = body.url;
  if (body.tokenSecret) changes.tokenSecret = body.tokenSecret;
  for (const field of OPTIONAL) {
    const given = body[field] ?? null;
    if (given !== c[field]) changes[field] = given;
  }
  return changes as ProxmoxClusterPatch;
}

/** The cluster's issues use the body's names, which are the form's. */
export const placeClusterIssues = (issues: readonly FieldIssue[]): PlacedIssues =>
  placeIssues(issues, (i) => ((CLUSTER_FIELDS as readonly string[]).includes(i.path) ? [i.path, i.message] : undefined));
