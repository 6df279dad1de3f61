import { defineSearchAttributeKey, SearchAttributeType, type TypedSearchAttributes } from '@temporalio/common';
import { SearchAttribute } from './constants';

/** Typed keys for Keelson's search attributes; pure, so workflows may import them too. */
export const SearchKey = {
  tenant: defineSearchAttributeKey(SearchAttribute.tenant, SearchAttributeType.KEYWORD),
  operation: defineSearchAttributeKey(SearchAttribute.operation, SearchAttributeType.KEYWORD),
  resources: defineSearchAttributeKey(SearchAttribute.resources, SearchAttributeType.KEYWORD_LIST),
  actor: defineSearchAttributeKey(SearchAttribute.actor, SearchAttributeType.KEYWORD),
} as const;

export interface RunAttributes {
  tenantId: string;
  operation: string;
  resources: string[];
  actor: string;
}

export function runSearchAttributes(a: RunAttributes) {
  return [
    { key: SearchKey.tenant, value: a.tenantId },
    { key: SearchKey.operation, value: a.operation },
    { key: SearchKey.resources, value: a.resources },
    { key: SearchKey.actor, value: a.actor },
  ];
}

/** The leading values whose JSON fits in `bytes` (Temporal caps a search attribute at 2 KiB). */
export function fittingResources(values: string[], bytes = 1800): string[] {
  const out: string[] = [];
  let size = 2;
  for (const v of values) {
    size += v.length + 3;
    if (size > bytes) break;
    out.push(v);
  }
  return out;
}

export function readRunAttributes(sa: TypedSearchAttributes): Partial<RunAttributes> {
  return {
    tenantId: sa.get(SearchKey.tenant),
    operation: sa.get(SearchKey.operation),
    resources: sa.get(SearchKey.resources),
    actor: sa.get(SearchKey.actor),
  };
}
