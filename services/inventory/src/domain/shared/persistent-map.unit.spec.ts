import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PersistentMap } from './persistent-map.ts';

const sorted = <V>(m: PersistentMap<V>): [string, V][] => m.entries().sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
const sortedOf = <V>(m: Map<string, V>): [string, V][] => [...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

// Few distinct keys, so sets hit existing keys and deletes hit present ones; plus long runs of similar ids.
const keyArb = fc.oneof(
  fc.constantFrom('', 'a', 'b', 'vm-1', 'vm-2', 'vm-10'),
  fc.integer({ min: 0, max: 300 }).map((i) => `vm-${i}`),
  fc.string({ maxLength: 6 }),
);
const opArb = fc.oneof(
  fc.record({ op: fc.constant('set' as const), key: keyArb, value: fc.integer({ min: 0, max: 3 }) }),
  fc.record({ op: fc.constant('delete' as const), key: keyArb }),
);

describe('PersistentMap', () => {
  it('holds what a Map holds after any sequence of sets and deletes, and every earlier version stays as it was', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 400 }), (ops) => {
        const versions: [PersistentMap<number>, [string, number][]][] = [];
        let m = PersistentMap.empty<number>();
        const reference = new Map<string, number>();
        for (const o of ops) {
          if (o.op === 'set') {
            m = m.set(o.key, o.value);
            reference.set(o.key, o.value);
          } else {
            m = m.delete(o.key);
            reference.delete(o.key);
          }
          expect(m.size).toBe(reference.size);
          expect(m.get(o.key)).toBe(reference.get(o.key));
          versions.push([m, sortedOf(reference)]);
        }
        for (const [version, entries] of versions) {
          expect(sorted(version)).toEqual(entries);
          for (const [k, v] of entries) expect(version.get(k)).toBe(v);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('answers a write that changes nothing with the same map; tells keys whose hashes collide apart', () => {
    const m = PersistentMap.of([['x', 1]]);
    expect(m.set('x', 1)).toBe(m);
    expect(m.delete('y')).toBe(m);
    expect(PersistentMap.empty().delete('x')).toBe(PersistentMap.empty());
    // FNV-1a of "costarring" and "liquid" are equal (32 bits), as are "declinate" and "macallums".
    const colliding = PersistentMap.of([
      ['costarring', 1],
      ['liquid', 2],
      ['declinate', 3],
      ['macallums', 4],
    ]);
    expect(sorted(colliding)).toEqual([
      ['costarring', 1],
      ['declinate', 3],
      ['liquid', 2],
      ['macallums', 4],
    ]);
    const without = colliding.delete('liquid').set('macallums', 5);
    expect([without.get('costarring'), without.get('liquid'), without.get('declinate'), without.get('macallums')]).toEqual([
      1,
      undefined,
      3,
      5,
    ]);
    expect(without.size).toBe(3);
    expect(colliding.get('liquid')).toBe(2);
  });

  it('takes 20,000 keys in and out again', () => {
    let m = PersistentMap.empty<number>();
    for (let i = 0; i < 20_000; i++) m = m.set(`vm-${i}`, i);
    expect(m.size).toBe(20_000);
    expect(m.get('vm-17777')).toBe(17_777);
    for (let i = 0; i < 20_000; i += 2) m = m.delete(`vm-${i}`);
    expect(m.size).toBe(10_000);
    expect([m.has('vm-17776'), m.get('vm-17777')]).toEqual([false, 17_777]);
    expect(m.keys().length).toBe(10_000);
  });
});
