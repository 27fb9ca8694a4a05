import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { HNode } from './nodes.ts';
import { parseHocon } from './parse.ts';

/** Any tree written in any mix of the accepted syntaxes reads back as the same tree. */

type Tree = { readonly [key: string]: Value };
type Value = string | readonly Value[] | Tree;

const key = fc.stringMatching(/^[a-z][a-z0-9-]{0,6}$/).filter((k) => k !== 'include' && k !== 'true' && k !== 'false');
const unquotedSafe = fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,8}$/);
const anyText = fc.string({ maxLength: 12 }).filter((s) => !s.includes('\n'));
const scalar = fc.oneof(unquotedSafe, anyText);
const { value } = fc.letrec<{ value: Value; tree: Tree }>((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, scalar, fc.array(tie('value'), { maxLength: 3 }), tie('tree')),
  tree: fc.dictionary(key, tie('value'), { maxKeys: 4 }),
}));
const rootTree = fc.dictionary(key, value, { maxKeys: 5 });

/** Writes `tree` choosing separators, assignment styles and quoting from `choices`. */
function write(tree: Tree, choices: () => number, indent = ''): string {
  const sep = () => [',\n', '\n', ', ', '\n\n# comment\n', ' // c\n'][choices() % 5]!;
  const str = (s: string) =>
    /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(s) && !/^(true|false|null|include)$/.test(s) && choices() % 2 === 0 ? s : JSON.stringify(s);
  const val = (v: Value, ind: string): string => {
    if (typeof v === 'string') return str(v);
    if (Array.isArray(v)) return `[${(v as readonly Value[]).map((x) => val(x, ind)).join(choices() % 2 === 0 ? ', ' : '\n')}]`;
    return `{\n${write(v as Tree, choices, `${ind}  `)}\n${ind}}`;
  };
  return Object.entries(tree)
    .map(([k, v]) => {
      const name = choices() % 3 === 0 ? JSON.stringify(k) : k;
      if (typeof v === 'object' && !Array.isArray(v) && choices() % 2 === 0) return `${indent}${name} ${val(v, indent)}`;
      return `${indent}${name}${[': ', ' = ', ':'][choices() % 3]}${val(v, indent)}`;
    })
    .join(sep());
}

function plain(node: HNode): unknown {
  if (node.kind === 'scalar') return node.text;
  if (node.kind === 'array') return node.items.map(plain);
  return Object.fromEntries([...node.fields].map(([k, v]) => [k, plain(v)]));
}

describe('HOCON syntax variations (property)', () => {
  it('parse(write(tree)) = tree, braced or not', () => {
    fc.assert(
      fc.property(rootTree, fc.array(fc.nat(), { minLength: 1, maxLength: 64 }), fc.boolean(), (tree, picks, braced) => {
        let n = 0;
        const choices = () => picks[n++ % picks.length]!;
        const body = write(tree, choices);
        const text = braced ? `{\n${body}\n}` : body;
        expect(plain(parseHocon(text, { file: 'p.conf' }))).toEqual(tree);
      }),
      { numRuns: 300 },
    );
  });

  it('JSON.stringify output is read as the same tree', () => {
    fc.assert(
      fc.property(rootTree, (tree) => {
        expect(plain(parseHocon(JSON.stringify(tree, null, 2), { file: 'p.json' }))).toEqual(tree);
      }),
      { numRuns: 200 },
    );
  });
});
