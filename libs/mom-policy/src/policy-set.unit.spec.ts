import { describe, expect, it } from 'vitest';
import { loadPolicySet, parsePolicy, PolicyError } from './policy-set.ts';
import { evaluateInterval } from './interval.ts';
import { hostSample } from './testing/policy-run.ts';

describe('parsePolicy', () => {
  it('a parse error names file, line and reason', () => {
    let err: unknown;
    try {
      parsePolicy('(defvar a 1)\n\n(defvar b (+ 1 2)\n', 'x.policy');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PolicyError);
    expect((err as PolicyError).file).toBe('x.policy');
    expect((err as PolicyError).line).toBe(3);
    expect((err as PolicyError).message).toMatch(/^x\.policy:3: '\(' opened on line 3 is never closed/);
  });
  it('mismatched and stray brackets are errors; a comment-only file is no code', () => {
    expect(() => parsePolicy('(a ]', 'f')).toThrow(/f:1: '\]' closes '\('/);
    expect(() => parsePolicy('\n)', 'f')).toThrow(/f:2: unexpected '\)'/);
    expect(parsePolicy('# nothing\n', 'f').code).toEqual([]);
  });
  it('reports where an unknown character swallowed the rest', () => {
    expect(parsePolicy('(defvar a 1)\n(defvar b 2) ; gone\n(defvar c 3)', 'f').swallowed).toEqual({ file: 'f', line: 2 });
  });
});

describe("loadPolicySet (MOM's policy directory)", () => {
  it('orders by policy name whatever the input order', () => {
    const set = loadPolicySet([
      { name: '10-b.policy', text: '(set x 2)' },
      { name: '01-a.policy', text: '(defvar x 1)' },
    ]);
    expect(set.files.map((f) => f.name)).toEqual(['01-a.policy', '10-b.policy']);
    expect(evaluateInterval(set, { host: hostSample(), guests: [] }).variables.x).toBe(2);
  });
  it('a later file with the same policy name replaces the earlier one', () => {
    const set = loadPolicySet([
      { name: 'a.policy', text: '(defvar x 1)' },
      { name: 'a.policy', text: '(defvar x 9)' },
    ]);
    expect(set.files).toHaveLength(1);
    expect(evaluateInterval(set, { host: hostSample(), guests: [] }).variables.x).toBe(9);
  });
  it('a parse error anywhere refuses the set, naming the file and its line', () => {
    expect(() =>
      loadPolicySet([
        { name: '00-a.policy', text: '(defvar x 1)' },
        { name: '01-b.policy', text: '# c\n(defvar y' },
      ]),
    ).toThrow(/^01-b\.policy:2: /);
  });
  it('drops a first file without expressions, as MOM does; an empty set evaluates 0', () => {
    const set = loadPolicySet([
      { name: '00-a.policy', text: '# only a comment\n' },
      { name: '01-b.policy', text: '(defvar x 1)' },
    ]);
    expect(set.dropped).toEqual(['00-a.policy']);
    const empty = loadPolicySet([]);
    expect(empty.text).toBe('0');
    expect(evaluateInterval(empty, { host: hostSample(), guests: [] }).ok).toBe(true);
  });
  it('a stray character in one file swallows the files after it (MOM concatenates before scanning)', () => {
    const set = loadPolicySet([
      { name: 'a.policy', text: '(defvar x 1) ;' },
      { name: 'b.policy', text: '(defvar y 2)' },
    ]);
    expect(set.swallowed).toEqual({ file: 'a.policy', line: 1 });
    const out = evaluateInterval(set, { host: hostSample(), guests: [] });
    expect(out.variables).toEqual({ x: 1 });
  });
  it('errors while evaluating name the file and line', () => {
    const set = loadPolicySet([
      { name: 'a.policy', text: '(defvar x 1)' },
      { name: 'b.policy', text: '\n\n(set nope 1)' },
    ]);
    expect(evaluateInterval(set, { host: hostSample(), guests: [] }).error).toBe('b.policy:3: undefined symbol nope');
  });
});
