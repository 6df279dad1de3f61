import type { Fetch } from '$lib/api/request';
import { fetchBlueprints } from '$lib/services/blueprints-service';
import { fetchContainers } from '$lib/services/containers-service';
import { fetchNodes } from '$lib/services/nodes-service';
import type { FieldChoices } from './schema-form.svelte';

type Provider = (fetch: Fetch) => Promise<Array<{ value: string; label: string }>>;

/**
 * Where a start form finds the choices for an id field, by property name: a `nodeId` is one of
 * the nodes, a `blueprintId` one of the blueprints, a `containerId` one of the containers. A field
 * whose list cannot be read (no permission, API down) or is empty stays a text input.
 */
const PROVIDERS: Record<string, Provider> = {
  nodeId: async (fetch) => (await fetchNodes(fetch)).items.map((n) => ({ value: n.id, label: `${n.name} (${n.status})` })),
  blueprintId: async (fetch) => (await fetchBlueprints(fetch)).items.map((b) => ({ value: b.id, label: `${b.name} — ${b.image}` })),
  containerId: async (fetch) =>
    (await fetchContainers(fetch)).items.filter((c) => c.state !== 'removed').map((c) => ({ value: c.id, label: `${c.name} (${c.state})` })),
};

/** The choices for those of `names` that have a provider; failures leave a name out. */
export async function loadFieldChoices(fetch: Fetch, names: string[]): Promise<FieldChoices> {
  const wanted = names.filter((n) => n in PROVIDERS);
  const lists = await Promise.all(wanted.map((n) => PROVIDERS[n]!(fetch).catch(() => [])));
  const choices: FieldChoices = {};
  wanted.forEach((n, i) => {
    if (lists[i]!.length) choices[n] = lists[i]!;
  });
  return choices;
}
