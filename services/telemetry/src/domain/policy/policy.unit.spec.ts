import { describe, expect, it } from 'vitest';
import { ValidationError } from '@berth/errors';
import { checkScope, decidePolicy, evolvePolicy, initialPolicyState, scopesFor, type ApplyPolicySet } from './policy.ts';

const cmd = (over: Partial<ApplyPolicySet> = {}): ApplyPolicySet => ({
  type: 'ApplyPolicySet',
  scope: 'default',
  files: [
    { name: 'b.policy', text: '1' },
    { name: 'a.policy', text: '2' },
  ],
  digest: 'd1',
  source: 'applied',
  at: 't',
  ...over,
});

describe('policy sets', () => {
  it('a first apply is version 1 with the files in name order; the same digest again changes nothing; another is version 2', () => {
    const [e] = decidePolicy(cmd(), initialPolicyState());
    expect(e?.data).toMatchObject({ scope: 'default', version: 1, files: [{ name: 'a.policy' }, { name: 'b.policy' }] });
    const s = evolvePolicy(initialPolicyState(), e!);
    expect(decidePolicy(cmd(), s)).toEqual([]);
    expect(decidePolicy(cmd({ digest: 'd2' }), s)[0]?.data.version).toBe(2);
  });

  it('rejects empty sets, duplicate or odd names and unknown scopes, naming the field', () => {
    expect(() => decidePolicy(cmd({ files: [] }), initialPolicyState())).toThrow(ValidationError);
    expect(() =>
      decidePolicy(
        cmd({
          files: [
            { name: 'a', text: '' },
            { name: 'a', text: '' },
          ],
        }),
        initialPolicyState(),
      ),
    ).toThrow(/files\[1\]\.name/);
    expect(() => decidePolicy(cmd({ files: [{ name: '../x', text: '' }] }), initialPolicyState())).toThrow(/files\[0\]\.name/);
    expect(() => checkScope('cluster:x')).toThrow(/scope/);
    expect(checkScope('pool:gpu')).toBe('pool:gpu');
  });

  it('a host resolves host, then pool, then default', () => {
    expect(scopesFor('h1', 'gpu')).toEqual(['host:h1', 'pool:gpu', 'default']);
    expect(scopesFor('h1', undefined)).toEqual(['host:h1', 'default']);
  });
});
