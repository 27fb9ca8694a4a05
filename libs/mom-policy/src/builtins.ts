import { symbolToken, type Token } from './lexer.ts';
import type { Code } from './parser.ts';
import type { Evaluator } from './evaluator.ts';
import { add, compare, div, eq, mul, shl, shr, sub } from './operators.ts';
import { pyIter, pyLen, truthy, type Value } from './values.ts';

/**
 * MOM's built-in forms (the Evaluator's `c_<name>` methods), each with the argument types its doc
 * string declares (`value` evaluated, `code` left as it is, `symbol` a bare name, `...` the rest
 * like the previous), and the operator tokens that name them.
 */

export type ArgType = 'value' | 'code' | 'symbol' | '...';
export type Arg = Value | Code;
export interface Builtin {
  readonly types: readonly ArgType[];
  readonly fn: (ev: Evaluator, args: Arg[], line: number | undefined) => Value;
}

/** Operator tokens map to built-in names (Evaluator.operator_map). */
export const OPERATORS: Readonly<Record<string, string>> = {
  '+': 'add',
  '-': 'sub',
  '*': 'mul',
  '/': 'div',
  '<': 'lt',
  '>': 'gt',
  '<=': 'lte',
  '>=': 'gte',
  '<<': 'shl',
  '>>': 'shr',
  '==': 'eq',
  '!=': 'neq',
  and: 'and',
  or: 'or',
  not: 'not',
  min: 'min',
  max: 'max',
  null: 'null',
  valid: 'valid',
};

export const isToken = (c: Arg): c is Token => typeof c === 'object' && c !== null && !Array.isArray(c) && 'kind' in c && 'offset' in c;
const v = (a: Arg): Value => a as Value;
const s = (a: Arg): string => a as string;
const t = (doc: string): ArgType[] => doc.split(' ') as ArgType[];

function binary(fn: (a: Value, b: Value) => Value): Builtin {
  return { types: t('value value'), fn: (_e, a) => fn(v(a[0]!), v(a[1]!)) };
}

/** The first argument whose truth is `stopOn`, else the last one. */
function pick(a: readonly Arg[], stopOn: boolean): Value {
  for (const x of a) if (truthy(v(x)) === stopOn) return v(x);
  return v(a[a.length - 1]!);
}

function minMax(op: '<' | '>'): Builtin {
  return {
    types: t('value ...'),
    fn: (_e, a) => {
      // Python's min()/max(): the first of equal values wins (so (max 1 1.0) is the int 1).
      let best = v(a[0]!);
      for (let i = 1; i < a.length; i++) if (compare(op, v(a[i]!), best)) best = v(a[i]!);
      return best;
    },
  };
}

const def: Builtin = {
  types: t('symbol code code'),
  fn: (e, a, line) => (
    e.funcs.set(s(a[0]!), { params: a[1] as Code, body: a[2] as Code, let: symbolToken('let', line ?? 0, -1) }),
    s(a[0]!)
  ),
};
const set: Builtin = { types: t('symbol value'), fn: (e, a, line) => e.set(s(a[0]!), v(a[1]!), line) };

const BUILTINS: Readonly<Record<string, Builtin>> = {
  def,
  defun: def,
  set,
  setq: set,
  defvar: { types: t('symbol value'), fn: (e, a) => e.defvar(s(a[0]!), v(a[1]!)) },
  let: { types: t('code code ...'), fn: (e, a) => e.let(a[0] as Code, a.slice(1) as Code[]) },
  with: {
    types: t('symbol symbol code'),
    fn: (e, a) => {
      const items = pyIter(e.get(s(a[0]!), false, undefined));
      const out: Value[] = [];
      for (const item of items) {
        e.bound.add(s(a[1]!));
        e.scopes.push(new Map<string, Value>([[s(a[1]!), item]]));
        out.push(e.eval(a[2] as Code));
        e.scopes.pop();
      }
      return out;
    },
  },
  if: { types: t('value code code'), fn: (e, a) => e.eval((truthy(v(a[0]!)) ? a[1] : a[2]) as Code) },
  add: binary(add),
  sub: binary(sub),
  mul: binary(mul),
  div: binary(div),
  lt: binary((x, y) => compare('<', x, y)),
  gt: binary((x, y) => compare('>', x, y)),
  lte: binary((x, y) => compare('<=', x, y)),
  gte: binary((x, y) => compare('>=', x, y)),
  eq: binary(eq),
  neq: binary((x, y) => !eq(x, y)),
  shl: binary(shl),
  shr: binary(shr),
  // and/or receive their arguments already evaluated (all of them), then pick one, as Python's
  // loops in c_and/c_or do.
  and: { types: t('value ...'), fn: (_e, a) => pick(a, false) },
  or: { types: t('value ...'), fn: (_e, a) => pick(a, true) },
  not: { types: t('value'), fn: (_e, a) => !truthy(v(a[0]!)) },
  min: minMax('<'),
  max: minMax('>'),
  null: {
    types: t('...'),
    fn: (_e, a) => {
      for (const x of a) {
        if (x === null) continue;
        const n = pyLen(v(x));
        if (n === undefined || n > 0) return false; // TypeError from len() is caught: False
      }
      return true;
    },
  },
  valid: { types: t('...'), fn: (_e, a) => !a.some((x) => x === null) },
};

export const BUILTIN_MAP: ReadonlyMap<string, Builtin> = new Map(Object.entries(BUILTINS));
