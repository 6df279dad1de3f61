/**
 * The address a request came from. Behind a trusted proxy (the web app's server, a load
 * balancer) it is the right-most X-Forwarded-For entry that is not itself a trusted proxy:
 * entries further left were written by the client and can be forged.
 */
export function clientIp(remote: string | null, forwardedFor: string | undefined, trusted: ReadonlySet<string>): string | null {
  if (!remote || !trusted.has(remote) || !forwardedFor) return remote;
  const hops = forwardedFor
    .split(',')
    .map((h) => h.trim())
    .filter(Boolean);
  for (let i = hops.length - 1; i >= 0; i--) {
    if (!trusted.has(hops[i]!)) return hops[i]!;
  }
  return hops[0] ?? remote;
}
