import { ValidationError } from '@berth/errors';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { domainName, domainUuid, vmIdOfDomain } from './naming.ts';

describe('naming', () => {
  it('keeps a UUID VM id as the domain UUID', () => {
    expect(domainUuid('6F1C6A52-1111-4A4A-8A8A-000000000001')).toBe('6f1c6a52-1111-4a4a-8a8a-000000000001');
  });

  it('gives other ids a stable, well-formed v5-style UUID, distinct per id', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z0-9][a-z0-9_.-]{0,30}$/), fc.stringMatching(/^[a-z0-9][a-z0-9_.-]{0,30}$/), (a, b) => {
        const u = domainUuid(a);
        expect(u).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
        expect(domainUuid(a)).toBe(u);
        if (a !== b) expect(domainUuid(b)).not.toBe(u);
      }),
    );
  });

  it('round-trips VM id and domain name, and ignores foreign domains', () => {
    expect(vmIdOfDomain(domainName('vm-42'))).toBe('vm-42');
    expect(vmIdOfDomain('test')).toBeUndefined();
  });

  it('rejects VM ids that are not safe names, naming the field', () => {
    expect(() => domainName('../etc')).toThrow(ValidationError);
    expect(() => domainName('a b')).toThrow(/vmId/);
  });
});
