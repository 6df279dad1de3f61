import { describe, expect, it } from 'vitest';
import { actorFilter, auditHref, fromLocalInput, toLocalInput } from './audit-query';

describe('auditHref', () => {
  it('keeps only the filters that are set, trimmed and encoded', () => {
    expect(auditHref({})).toBe('/audit');
    expect(auditHref({ action: ' apikey.create ', actor: 'user:1', resourceId: '' })).toBe('/audit?actor=user%3A1&action=apikey.create');
    expect(auditHref({ from: '2025-01-01T00:00:00.000Z', resourceType: 'api_key' })).toBe('/audit?resourceType=api_key&from=2025-01-01T00%3A00%3A00.000Z');
  });
});

describe('datetime-local inputs', () => {
  it('round-trips an instant through the local wall time, to the minute', () => {
    for (const iso of ['2025-03-04T09:05:00.000Z', '2024-02-29T23:59:00.000Z', '2025-10-26T01:30:00.000Z']) {
      const local = toLocalInput(iso);
      expect(local).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/);
      expect(fromLocalInput(local)).toBe(iso);
    }
  });

  it('reads the input as local time, like the browser shows it', () => {
    const local = new Date(2025, 0, 31, 12, 0);
    expect(fromLocalInput('2025-01-31T12:00')).toBe(local.toISOString());
  });

  it('gives nothing for nothing and for nonsense', () => {
    expect(toLocalInput(undefined)).toBe('');
    expect(toLocalInput('yesterday')).toBe('');
    expect(fromLocalInput('')).toBeUndefined();
    expect(fromLocalInput('2025-13-45T99:99')).toBeUndefined();
  });
});

describe('actorFilter', () => {
  it('names the actor the way the API filters by', () => {
    expect(actorFilter({ actorType: 'api_key', actorId: 'k1' })).toBe('api_key:k1');
    expect(actorFilter({ actorType: 'system', actorId: null })).toBeNull();
  });
});
