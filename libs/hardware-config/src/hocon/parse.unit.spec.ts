import { describe, expect, it } from 'vitest';
import type { HNode } from './nodes.ts';
import { parseHocon } from './parse.ts';

/** The tree as plain JSON values (scalars as their text), to compare syntaxes. */
function plain(node: HNode): unknown {
  if (node.kind === 'scalar') return node.text;
  if (node.kind === 'array') return node.items.map(plain);
  return Object.fromEntries([...node.fields].map(([k, v]) => [k, plain(v)]));
}
const parse = (text: string) => plain(parseHocon(text, { file: 't.conf' }));

describe('HOCON syntax', () => {
  it('":" "=" and "key {" are the same; braced and braceless roots are the same', () => {
    const expected = { a: { b: '1' }, c: { d: 'x' } };
    expect(parse('a: { b: 1 }\nc = { d = x }')).toEqual(expected);
    expect(parse('a { b: 1 }, c { d: x }')).toEqual(expected);
    expect(parse('{ "a": { "b": 1 }, "c": { "d": "x" } }')).toEqual(expected);
  });

  it('path keys nest and merge with other fields of the same object', () => {
    expect(parse('x.y.z: 1\nx { y { w: 2 } }\nx.v: 3')).toEqual({ x: { y: { z: '1', w: '2' }, v: '3' } });
    expect(parse('"a.b": 1')).toEqual({ 'a.b': '1' });
  });

  it('later scalar fields override, objects merge deeply', () => {
    expect(parse('a { b: 1, c: 2 }\na { c: 3 }\nd: 1\nd: { e: 2 }')).toEqual({ a: { b: '1', c: '3' }, d: { e: '2' } });
  });

  it('value concatenation keeps inner whitespace: 32 GiB, unquoted sentences', () => {
    expect(parse('m: 32 GiB\nn: Pool  1   # comment\no: "a" b')).toEqual({ m: '32 GiB', n: 'Pool  1', o: 'a b' });
  });

  it('comments with # and //, but // inside quotes is text', () => {
    expect(parse('// head\na: 1 // tail\n# line\nb: "http://x" # c')).toEqual({ a: '1', b: 'http://x' });
  });

  it('arrays with commas, newlines, a trailing comma, or adjacent objects', () => {
    expect(parse('a: [1, 2, 3]\nb: [\n  1\n  2\n  3,\n]\nc: [{x: 1} {x: 2}]')).toEqual({
      a: ['1', '2', '3'],
      b: ['1', '2', '3'],
      c: [{ x: '1' }, { x: '2' }],
    });
  });

  it('quoted strings decode JSON escapes; triple quotes keep newlines', () => {
    expect(parse('a: "t\\"ab\\u0041"\nb: """line 1\nline "2""""')).toEqual({ a: 't"abA', b: 'line 1\nline "2"' });
  });

  it('records line and column of every value', () => {
    const root = parseHocon('a {\n  b: 1\n  c: [\n    x\n  ]\n}', { file: 'f.conf' });
    const a = root.fields.get('a');
    expect(a?.pos).toEqual({ file: 'f.conf', line: 1, col: 3 });
    if (a?.kind !== 'object') throw new Error('a is an object');
    expect(a.fields.get('b')?.pos).toEqual({ file: 'f.conf', line: 2, col: 6 });
    const c = a.fields.get('c');
    expect(c?.kind === 'array' && c.items[0]?.pos).toEqual({ file: 'f.conf', line: 4, col: 5 });
  });

  it('a field may follow a value on the same line without a comma', () => {
    expect(parse('{ curve: piecewise cutoff: 1 low: { curve: linear slope: 1 } }')).toEqual({
      curve: 'piecewise',
      cutoff: '1',
      low: { curve: 'linear', slope: '1' },
    });
  });

  it.each([
    ['a: ${b', /unterminated substitution/],
    ['a: [1, 2', /missing "]"/],
    ['a: "open', /unterminated string/],
    ['a: 1,, b: 2', /expected a key/],
    ['{ a: 1 } b', /unexpected text after/],
    ['a: x { b: 1 }', /concatenation is not supported/],
    ['include "x.conf"', /includes are not available/],
  ])('rejects %j', (text, reason) => {
    expect(() => parseHocon(text, { file: 't.conf' })).toThrow(reason);
  });
});
