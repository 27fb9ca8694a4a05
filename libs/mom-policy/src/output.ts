import { Entity, GuestsView, IoTune, IoTuneVals } from './entity.ts';
import { PyCallable, PyDict, type Value } from './values.ts';

/** A float in input that must stay a float even when integral (`5.0`); `parseJson` makes these. */
export class Float {
  constructor(readonly value: number) {}
}

export type PlainValue = null | boolean | number | string | readonly PlainValue[] | { readonly [k: string]: PlainValue };

/** The Python values behind an EvalOutput, kept (not enumerable) so toJson can print 5 and 5.0 apart. */
export const RAW: unique symbol = Symbol('mom-policy raw output');

export interface RawOutput {
  readonly ok: boolean | null;
  readonly error?: string;
  readonly host: ReadonlyMap<string, Value>;
  readonly guests: ReadonlyMap<string, ReadonlyMap<string, Value>>;
  readonly excluded_guests: readonly string[];
  readonly variables: ReadonlyMap<string, Value>;
}

/** A Python value as plain JS (ints and floats both numbers; objects named). */
export function plain(v: Value): PlainValue {
  if (v === null || typeof v === 'boolean' || typeof v === 'number' || typeof v === 'string') return v;
  if (typeof v === 'bigint') return Number(v);
  if (Array.isArray(v)) return v.map(plain);
  if (v instanceof PyDict) return Object.fromEntries([...v.map].map(([k, x]) => [k, plain(x)]));
  if (v instanceof IoTune) return plain(v.ioTune());
  if (v instanceof IoTuneVals) return plain(new PyDict(v.vals));
  if (v instanceof Entity) return `<Entity ${v.name}>`;
  if (v instanceof GuestsView) return v.guests.map((g) => `<Entity ${g.name}>`);
  if (v instanceof PyCallable) return `<function ${v.name}>`;
  return `<${(v as { typeName: string }).typeName}>`;
}

/** Python's repr() of a float, which JSON can carry except for inf and nan (written null). */
export function floatRepr(x: number): string {
  if (!Number.isFinite(x)) return 'null';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const [mant, expText] = x.toExponential().split('e') as [string, string];
  const exp = Number(expText);
  const neg = mant.startsWith('-');
  const digits = mant.replace('-', '').replace('.', '');
  let body: string;
  if (exp < -4 || exp >= 16) {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    body = `${m}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  } else if (exp < 0) {
    body = `0.${'0'.repeat(-exp - 1)}${digits}`;
  } else if (digits.length <= exp + 1) {
    body = `${digits}${'0'.repeat(exp + 1 - digits.length)}.0`;
  } else {
    body = `${digits.slice(0, exp + 1)}.${digits.slice(exp + 1)}`;
  }
  return neg ? `-${body}` : body;
}

/** One Python value as JSON (ints as ints, floats as Python's repr). */
export function valueJson(v: Value): string {
  if (v === null) return 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') return floatRepr(v);
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(valueJson).join(', ')}]`;
  if (v instanceof PyDict) return mapJson(v.map);
  if (v instanceof IoTune) return valueJson(v.ioTune());
  if (v instanceof IoTuneVals) return mapJson(v.vals);
  return JSON.stringify(plain(v));
}

function mapJson(m: ReadonlyMap<string, Value>): string {
  return `{${[...m].map(([k, x]) => `${JSON.stringify(k)}: ${valueJson(x)}`).join(', ')}}`;
}

/**
 * One JSON object for an EvalOutput, ints as ints and floats as Python writes them (`(/ 10 2)` is
 * `5.0`). Needs the object evaluateInterval returned (a JSON copy has lost the distinction).
 */
export function toJson(output: object): string {
  const raw = (output as { [RAW]?: RawOutput })[RAW];
  if (raw === undefined) return JSON.stringify(output);
  const parts = [`"ok": ${raw.ok === null ? 'null' : String(raw.ok)}`];
  if (raw.error !== undefined) parts.push(`"error": ${JSON.stringify(raw.error)}`);
  parts.push(`"host": ${mapJson(raw.host)}`);
  parts.push(`"guests": {${[...raw.guests].map(([n, c]) => `${JSON.stringify(n)}: ${mapJson(c)}`).join(', ')}}`);
  parts.push(`"excluded_guests": ${JSON.stringify(raw.excluded_guests)}`);
  parts.push(`"variables": ${mapJson(raw.variables)}`);
  return `{${parts.join(', ')}}`;
}
