import { describe, expect, it } from 'vitest';
import { asksForOptions, emptyServiceOptions, readServiceOptions, serviceIssueField } from './service-options';

describe('what a customer is asked when ordering', () => {
  const filled = { hostname: ' shop-1 ', adminUser: 'ada', sshKeys: '# laptop\nssh-ed25519 AAAA ada@laptop\n\n', domain: ' Shop.Example.COM ' };

  it('sends each kind of plan only what it uses', () => {
    expect(readServiceOptions(filled, 'proxmox_vm')).toEqual({ hostname: 'shop-1', adminUser: 'ada', sshKeys: ['ssh-ed25519 AAAA ada@laptop'] });
    // A container is named; it has no login of its own.
    expect(readServiceOptions(filled, 'container')).toEqual({ hostname: 'shop-1' });
    // An app is named and served under its domain (lower-cased, as DNS names are compared).
    expect(readServiceOptions(filled, 'app')).toEqual({ hostname: 'shop-1', domain: 'shop.example.com' });
    expect(readServiceOptions(emptyServiceOptions(), 'app')).toEqual({});
  });

  it('asks nothing for a plain service line, and shows the API’s problems at their fields', () => {
    expect(['proxmox_vm', 'proxmox_lxc', 'container', 'app'].every(asksForOptions)).toBe(true);
    expect(asksForOptions('service')).toBe(false);
    expect(serviceIssueField('domain')).toBe('domain');
    expect(serviceIssueField('sshKeys.2')).toBe('sshKeys');
    expect(serviceIssueField('planId')).toBeNull();
  });
});
