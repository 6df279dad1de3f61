import { describe, expect, it } from 'vitest';
import { clientIp } from './client-ip';

const trusted = new Set(['127.0.0.1', '::1']);

describe('clientIp', () => {
  it('uses the socket address when the peer is not a trusted proxy', () => {
    expect(clientIp('203.0.113.9', '198.51.100.1', trusted)).toBe('203.0.113.9');
  });
  it('uses the forwarded address when a trusted proxy sent the request', () => {
    expect(clientIp('127.0.0.1', '198.51.100.1', trusted)).toBe('198.51.100.1');
  });
  it('ignores addresses a client prepended itself', () => {
    expect(clientIp('127.0.0.1', '10.9.9.9, 198.51.100.1', trusted)).toBe('198.51.100.1');
  });
  it('skips trusted hops from the right', () => {
    expect(clientIp('::1', '198.51.100.1, 127.0.0.1', trusted)).toBe('198.51.100.1');
  });
  it('falls back to the socket address without a header', () => {
    expect(clientIp('127.0.0.1', undefined, trusted)).toBe('127.0.0.1');
    expect(clientIp(null, '198.51.100.1', trusted)).toBeNull();
  });
});
