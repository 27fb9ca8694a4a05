import { PyDict, PyException, typeError, typeName, type Value } from './values.ts';

/**
 * Python's operators on MOM's values, with Python's rules: int (bigint) and float (number) mix
 * as Python mixes them, bool counts as int, `/` is true division, comparisons and equality of
 * lists go element by element. A type Python refuses is a TypeError here too.
 */

type Num = bigint | number;

/** int, float or bool as a number kind, bool as int; undefined for anything else. */
function num(v: Value): Num | undefined {
  if (typeof v === 'bigint' || typeof v === 'number') return v;
  if (typeof v === 'boolean') return v ? 1n : 0n;
  return undefined;
}

/** Python's float(int): exact rounding, OverflowError past the float range. */
export function intToFloat(i: bigint): number {
  const f = Number(i);
  if (!Number.isFinite(f)) throw new PyException('OverflowError', 'int too large to convert to float');
  return f;
}

const asFloat = (n: Num): number => (typeof n === 'bigint' ? intToFloat(n) : n);

function unsupported(op: string, a: Value, b: Value): PyException {
  return typeError(`unsupported operand type(s) for ${op}: '${typeName(a)}' and '${typeName(b)}'`);
}

const MAX_SEQUENCE = 10_000_000;

function repeat(seq: string | readonly Value[], times: bigint): Value {
  const n = times < 0n ? 0 : Number(times);
  if (n * (typeof seq === 'string' ? seq.length : seq.length) > MAX_SEQUENCE) throw new PyException('MemoryError', 'sequence too long');
  if (typeof seq === 'string') return seq.repeat(n);
  const out: Value[] = [];
  for (let i = 0; i < n; i++) out.push(...seq);
  return out;
}

export function add(a: Value, b: Value): Value {
  const x = num(a);
  const y = num(b);
  if (x !== undefined && y !== undefined) {
    if (typeof x === 'bigint' && typeof y === 'bigint') return x + y;
    return asFloat(x) + asFloat(y);
  }
  if (typeof a === 'string' && typeof b === 'string') return a + b;
  if (Array.isArray(a) && Array.isArray(b)) return [...(a as Value[]), ...(b as Value[])];
  throw unsupported('+', a, b);
}

export function sub(a: Value, b: Value): Value {
  const x = num(a);
  const y = num(b);
  if (x === undefined || y === undefined) throw unsupported('-', a, b);
  if (typeof x === 'bigint' && typeof y === 'bigint') return x - y;
  return asFloat(x) - asFloat(y);
}

export function mul(a: Value, b: Value): Value {
  const x = num(a);
  const y = num(b);
  if (x !== undefined && y !== undefined) {
    if (typeof x === 'bigint' && typeof y === 'bigint') return x * y;
    return asFloat(x) * asFloat(y);
  }
  if ((typeof a === 'string' || Array.isArray(a)) && typeof y === 'bigint') return repeat(a as string | Value[], y);
  if ((typeof b === 'string' || Array.isArray(b)) && typeof x === 'bigint') return repeat(b as string | Value[], x);
  throw unsupported('*', a, b);
}

const TWO53 = 2n ** 53n;

/** Python 3 true division: always a float, ZeroDivisionError on a zero divisor. */
export function div(a: Value, b: Value): Value {
  const x = num(a);
  const y = num(b);
  if (x === undefined || y === undefined) throw unsupported('/', a, b);
  if (typeof x === 'bigint' && typeof y === 'bigint') {
    if (y === 0n) throw new PyException('ZeroDivisionError', 'division by zero');
    const ax = x < 0n ? -x : x;
    const ay = y < 0n ? -y : y;
    // Both exact as doubles: one IEEE division is correctly rounded, as CPython's.
    if (ax <= TWO53 && ay <= TWO53) return Number(x) / Number(y);
    return intToFloat(x) / intToFloat(y);
  }
  const fy = asFloat(y);
  if (fy === 0) throw new PyException('ZeroDivisionError', 'float division by zero');
  return asFloat(x) / fy;
}

function shiftOperands(op: string, a: Value, b: Value): [bigint, bigint] {
  const x = num(a);
  const y = num(b);
  if (typeof x !== 'bigint' || typeof y !== 'bigint') throw unsupported(op, a, b);
  if (y < 0n) throw new PyException('ValueError', 'negative shift count');
  if (y > 1_000_000n) throw new PyException('OverflowError', 'shift count too large');
  return [x, y];
}

export function shl(a: Value, b: Value): Value {
  const [x, y] = shiftOperands('<<', a, b);
  return x << y;
}

export function shr(a: Value, b: Value): Value {
  const [x, y] = shiftOperands('>>', a, b);
  return x >> y;
}

export function pyAbs(a: Value): Value {
  const x = num(a);
  if (x === undefined) throw typeError(`bad operand type for abs(): '${typeName(a)}'`);
  if (typeof x === 'bigint') return x < 0n ? -x : x;
  return Math.abs(x);
}

export function eq(a: Value, b: Value): boolean {
  if (a === b) return typeof a !== 'number' || !Number.isNaN(a);
  const x = num(a);
  const y = num(b);
  if (x !== undefined && y !== undefined) {
    if (typeof x === 'number' && typeof y === 'number') return x === y;
    // bigint == number in JS compares the mathematical values exactly, as Python does.
    return x == y;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!eq(a[i] as Value, b[i] as Value)) return false;
    return true;
  }
  if (a instanceof PyDict && b instanceof PyDict) {
    if (a.map.size !== b.map.size) return false;
    for (const [k, v] of a.map) {
      if (!b.map.has(k) || !eq(v, b.map.get(k)!)) return false;
    }
    return true;
  }
  return false;
}

export type CompareOp = '<' | '>' | '<=' | '>=';

export function compare(op: CompareOp, a: Value, b: Value): boolean {
  const x = num(a);
  const y = num(b);
  if (x !== undefined && y !== undefined) return cmpPrimitive(op, x, y);
  if (typeof a === 'string' && typeof b === 'string') return cmpPrimitive(op, a, b);
  if (Array.isArray(a) && Array.isArray(b)) {
    const n = Math.min(a.length, b.length);
    for (let i = 0; i < n; i++) {
      if (!eq(a[i] as Value, b[i] as Value)) return compare(op, a[i] as Value, b[i] as Value);
    }
    return cmpPrimitive(op, a.length, b.length);
  }
  throw typeError(`'${op}' not supported between instances of '${typeName(a)}' and '${typeName(b)}'`);
}

function cmpPrimitive(op: CompareOp, x: Num | string, y: Num | string): boolean {
  switch (op) {
    case '<':
      return x < y;
    case '>':
      return x > y;
    case '<=':
      return x <= y;
    case '>=':
      return x >= y;
  }
}
