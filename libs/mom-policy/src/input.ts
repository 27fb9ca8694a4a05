import type { FieldSet } from './collectors.ts';
import { IoTune, IoTuneVals, type Sample } from './entity.ts';
import { Float } from './output.ts';
import { PyDict, type Value } from './values.ts';

/**
 * What one interval is given (a host's and its guests' samples, their properties, the collectors'
 * settings), checked, and turned into MOM's Python values: samples as Monitor.collect stores them.
 */

/** One sample: statistic name -> value (a missing key is a missing statistic; null is present). */
export type InputSample = Readonly<Record<string, unknown>>;

export interface GuestInput {
  readonly name: string;
  readonly uuid?: string;
  readonly props?: Readonly<Record<string, unknown>>;
  /** Samples oldest first; without it, the guest's own other keys are its one sample. */
  readonly history?: readonly InputSample[];
  readonly [statistic: string]: unknown;
}

export interface EvalConfig {
  /** MOM's sample-history-length (default 10). */
  readonly history_length?: number;
  /** Collector names that declare the statistics (default vdsm's mom.conf). */
  readonly host_collectors?: readonly string[];
  readonly guest_collectors?: readonly string[];
}

export interface EvalInput {
  /** The host's sample, or its samples oldest first. */
  readonly host: InputSample | readonly InputSample[];
  readonly host_props?: Readonly<Record<string, unknown>>;
  readonly guests: readonly GuestInput[];
  readonly config?: EvalConfig;
}

export const GUEST_META = new Set(['name', 'uuid', 'props', 'history']);
const isRecord = (x: unknown): x is Record<string, unknown> =>
  typeof x === 'object' && x !== null && !Array.isArray(x) && !(x instanceof Float);

/** A JSON-ish input value as MOM's Python value: integral numbers are ints, others floats. */
export function toValue(x: unknown): Value {
  if (x === null || x === undefined) return null;
  if (x instanceof Float) return x.value;
  if (typeof x === 'boolean' || typeof x === 'bigint' || typeof x === 'string') return x;
  if (typeof x === 'number') return Number.isInteger(x) ? BigInt(x) : x;
  if (Array.isArray(x)) return x.map(toValue);
  if (isRecord(x)) return new PyDict(new Map(Object.entries(x).map(([k, v]) => [k, toValue(v)])));
  return null; // functions, symbols: nothing a sample carries
}

export function dictOf(x: unknown): Map<string, Value> {
  return new Map<string, Value>(isRecord(x) ? Object.entries(x).map(([k, v]): [string, Value] => [k, toValue(v)]) : []);
}

const vals = (x: unknown): IoTuneVals => new IoTuneVals(isRecord(x) ? x : {}, toValue);

/** `io_tune` entries `{name, path, guaranteed, maximum, current}` become MOM's IoTune objects. */
function statValue(key: string, x: unknown): Value {
  if (key === 'io_tune' && Array.isArray(x)) {
    return x.map((d) =>
      isRecord(d) ? new IoTune(toValue(d.name), toValue(d.path), vals(d.guaranteed), vals(d.maximum), vals(d.current)) : toValue(d),
    );
  }
  return toValue(x);
}

/**
 * A stored sample whose statistics become Python values when first read (most are never read);
 * optional fields it lacks read as None, as Monitor.collect's setdefault makes them.
 */
class LazySample implements Sample {
  private cache: Map<string, Value> | undefined;
  constructor(
    private readonly raw: InputSample,
    private readonly optional: ReadonlySet<string>,
  ) {}
  has(name: string): boolean {
    return Object.hasOwn(this.raw, name) || this.optional.has(name);
  }
  get(name: string): Value | undefined {
    const cached = this.cache?.get(name);
    if (cached !== undefined) return cached;
    if (!Object.hasOwn(this.raw, name)) return this.optional.has(name) ? null : undefined;
    const v = statValue(name, this.raw[name]);
    (this.cache ??= new Map()).set(name, v);
    return v;
  }
  peek(name: string): Value | undefined {
    return this.cache?.get(name);
  }
}

interface Monitored {
  readonly statistics: Sample[];
  readonly missing: string[];
}

/** Monitor.collect: incomplete samples are never stored; optional fields default to None. */
export function monitor(samples: readonly InputSample[], fields: FieldSet, historyLength: number): Monitored {
  const stored: Sample[] = [];
  let missing: string[] = [];
  for (const s of samples) {
    missing = [];
    for (const f of fields.mandatory) if (!Object.hasOwn(s, f)) missing.push(f);
    if (missing.length > 0) continue;
    stored.push(new LazySample(s, fields.optional));
    if (stored.length > historyLength) stored.shift();
  }
  return { statistics: stored, missing };
}

export function validate(input: EvalInput): string | undefined {
  if (!isRecord(input)) return 'input must be an object';
  const hostSamples = Array.isArray(input.host) ? input.host : [input.host];
  if (hostSamples.length === 0 || !hostSamples.every(isRecord)) return 'host must be a sample object or a non-empty array of them';
  if (input.host_props !== undefined && !isRecord(input.host_props)) return 'host_props must be an object';
  if (!Array.isArray(input.guests)) return 'guests must be an array';
  const names = new Set<string>();
  for (const [i, g] of input.guests.entries()) {
    if (!isRecord(g)) return `guests[${i}] must be an object`;
    if (typeof g.name !== 'string') return `guests[${i}].name must be a string`;
    if (names.has(g.name)) return `guests[${i}].name '${g.name}' repeats an earlier guest`;
    names.add(g.name);
    if (g.uuid !== undefined && typeof g.uuid !== 'string') return `guests[${i}].uuid must be a string`;
    if (g.props !== undefined && !isRecord(g.props)) return `guests[${i}].props must be an object`;
    if (g.history !== undefined && (!Array.isArray(g.history) || g.history.length === 0 || !g.history.every(isRecord)))
      return `guests[${i}].history must be a non-empty array of sample objects`;
  }
  const c = input.config;
  if (c !== undefined) {
    if (!isRecord(c)) return 'config must be an object';
    if (c.history_length !== undefined && !(Number.isInteger(Number(c.history_length)) && Number(c.history_length) >= 1))
      return 'config.history_length must be a positive integer';
    for (const k of ['host_collectors', 'guest_collectors'] as const) {
      if (c[k] !== undefined && (!Array.isArray(c[k]) || !c[k].every((x) => typeof x === 'string')))
        return `config.${k} must be an array of collector names`;
    }
  }
  return undefined;
}
