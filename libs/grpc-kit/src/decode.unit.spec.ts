import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hasNul, nulFields } from './decode.ts';

describe('the NUL check of a decoded request', () => {
  it('finds a NUL in nested strings, arrays and keys, and names its path', () => {
    const request = { spec: { disks: [{ pool: 'a' }, { pool: 'b\u0000' }] }, labels: { 'k\u0000': 'v' }, raw: new Uint8Array([0]) };
    expect(hasNul(request)).toBe(true);
    expect(nulFields(request)).toEqual(['spec.disks[1].pool', 'labels.(key)']);
    expect(hasNul({ name: 'vm', data: new Uint8Array([0, 0]), n: 0 })).toBe(false);
  });

  it('the fast walk agrees with the one that builds paths, on any value', () => {
    const withNul = fc.oneof(fc.string(), fc.constantFrom('\u0000', 'a\u0000b'));
    const value = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: 'small' },
        withNul,
        fc.integer(),
        fc.boolean(),
        fc.uint8Array(),
        fc.array(tie('node')),
        fc.dictionary(withNul, tie('node')),
      ),
    })).node;
    fc.assert(fc.property(value, (v) => hasNul(v) === nulFields(v).length > 0));
  });
});
