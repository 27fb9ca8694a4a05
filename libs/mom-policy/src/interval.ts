import { DEFAULT_HISTORY_LENGTH, fieldsOf, VDSM_GUEST_COLLECTORS, VDSM_HOST_COLLECTORS, type FieldSet } from './collectors.ts';
import { Entity, GuestsView, IoTune, IoTuneVals, type Sample } from './entity.ts';
import { EvalError, Evaluator } from './evaluator.ts';
import type { PolicySet } from './policy-set.ts';
import { PyCallable, PyDict, PyException, eq, pyAbs, type Value } from './values.ts';
import { Float, plain, RAW, type PlainValue, type RawOutput } from './output.ts';

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

export interface EvalOutput {
  /** true: evaluated; false: an error ended the interval (no control); null: not evaluated (host not ready). */
  readonly ok: boolean | null;
  readonly error?: string;
  readonly host: Readonly<Record<string, PlainValue>>;
  readonly guests: Readonly<Record<string, Readonly<Record<string, PlainValue>>>>;
  readonly excluded_guests: readonly string[];
  readonly variables: Readonly<Record<string, PlainValue>>;
}

const GUEST_META = new Set(['name', 'uuid', 'props', 'history']);
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

function dictOf(x: unknown): Map<string, Value> {
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
function monitor(samples: readonly InputSample[], fields: FieldSet, historyLength: number): Monitored {
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

function validate(input: EvalInput): string | undefined {
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

function failed(ok: false | null, error: string, excluded: readonly string[] = []): EvalOutput {
  const out: EvalOutput = { ok, error, host: {}, guests: {}, excluded_guests: excluded, variables: {} };
  const raw: RawOutput = { ok, error, host: new Map(), guests: new Map(), excluded_guests: excluded, variables: new Map() };
  Object.defineProperty(out, RAW, { value: raw, enumerable: false });
  return out;
}

const EXTERNS: ReadonlyMap<string, Value> = new Map<string, Value>([
  [
    'abs',
    new PyCallable('abs', (a) => {
      if (a.length !== 1) throw new PyException('TypeError', `abs() takes exactly one argument (${a.length} given)`);
      return pyAbs(a[0]!);
    }),
  ],
  [
    'debug',
    new PyCallable('debug', (a) => {
      if (a.length === 0) throw new PyException('IndexError', 'tuple index out of range (debug without arguments)');
      return a[a.length - 1]!;
    }),
  ],
]);

/**
 * One policy interval, as MOM's PolicyEngine.do_controls + Policy.evaluate run it: a fresh
 * evaluator, `Host` and `Guests` bound, every expression of the set evaluated in order. Any error
 * ends the interval with ok:false and no control. Never throws.
 */
export function evaluateInterval(set: PolicySet, input: EvalInput): EvalOutput {
  try {
    const problem = validate(input);
    if (problem !== undefined) return failed(false, `input: ${problem}`);
    const cfg = input.config ?? {};
    const historyLength = cfg.history_length === undefined ? DEFAULT_HISTORY_LENGTH : Number(cfg.history_length);
    let hostFields: FieldSet;
    let guestFields: FieldSet;
    try {
      hostFields = fieldsOf(cfg.host_collectors ?? VDSM_HOST_COLLECTORS);
      guestFields = fieldsOf(cfg.guest_collectors ?? VDSM_GUEST_COLLECTORS);
    } catch (e) {
      return failed(false, `input: config: ${(e as Error).message}`);
    }

    const hostSamples = (Array.isArray(input.host) ? input.host : [input.host]) as readonly InputSample[];
    const hm = monitor(hostSamples, hostFields, historyLength);
    if (hm.missing.length > 0)
      return failed(null, `host: the latest sample lacks mandatory statistics ${hm.missing.join(', ')} (MOM does not evaluate)`);
    const host = new Entity('host', dictOf(input.host_props), hm.statistics, hostFields);

    const guests: Entity[] = [];
    const excluded: string[] = [];
    for (const g of input.guests) {
      const own: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(g)) if (!GUEST_META.has(k)) own[k] = v;
      const gm = monitor(g.history ?? [own], guestFields, historyLength);
      if (gm.missing.length > 0) {
        excluded.push(g.name);
        continue;
      }
      const props = dictOf(g.props);
      props.set('name', g.name);
      if (g.uuid !== undefined) props.set('uuid', g.uuid);
      guests.push(new Entity(g.name, props, gm.statistics, guestFields));
    }

    const ev = new Evaluator(EXTERNS);
    ev.defvar('Host', host);
    ev.defvar('Guests', new GuestsView(guests));
    try {
      for (const expr of set.code) ev.eval(expr);
    } catch (e) {
      return failed(false, describe(set, e), excluded);
    }
    return finish(ev, host, guests, excluded);
  } catch (e) {
    return failed(false, `internal: ${e instanceof Error ? e.message : String(e)}`);
  }
}

function describe(set: PolicySet, e: unknown): string {
  if (e instanceof EvalError) {
    const at = set.locate(e.line);
    return at ? `${at.file}:${at.line}: ${e.message}` : e.message;
  }
  if (e instanceof PyException) return e.message;
  if (e instanceof RangeError) return `RecursionError: ${e.message}`;
  return e instanceof Error ? e.message : String(e);
}

/** MOM's IoTune controller: the devices whose limits the policy changed, as it would send them. */
function ioTuneChanges(guest: Entity): Value | undefined {
  // The setters are reached only through reading io_tune: unread, nothing changed.
  const tunes = guest.readStatistic('io_tune');
  const prev = guest.getAttr('io_tune_current');
  if (!Array.isArray(tunes) || !Array.isArray(prev) || tunes.length === 0 || prev.length === 0) return undefined;
  const changed: Value[] = [];
  for (let i = 0; i < tunes.length; i++) {
    const t = tunes[i] as Value;
    if (!(t instanceof IoTune)) continue;
    const p = prev[i] as Value;
    const now = t.ioTune() as PyDict;
    const before = p instanceof PyDict ? (p.map.get('ioTune') ?? null) : null;
    if (!eq(now.map.get('ioTune')!, before)) changed.push(now);
  }
  return changed.length > 0 ? changed : undefined;
}

function finish(ev: Evaluator, host: Entity, guests: readonly Entity[], excluded: readonly string[]): EvalOutput {
  const rawGuests = new Map<string, Map<string, Value>>();
  for (const g of guests) {
    const controls = new Map(g.controls);
    const io = ioTuneChanges(g);
    if (io !== undefined) controls.set('io_tune', io);
    rawGuests.set(g.name, controls);
  }
  const variables = new Map<string, Value>();
  for (const [k, val] of ev.globals) {
    if (k === 'Host' || k === 'Guests' || EXTERNS.get(k) === val) continue;
    variables.set(k, val);
  }
  const raw: RawOutput = { ok: true, host: new Map(host.controls), guests: rawGuests, excluded_guests: excluded, variables };
  const out: EvalOutput = {
    ok: true,
    host: plainRecord(raw.host),
    guests: Object.fromEntries([...rawGuests].map(([name, c]) => [name, plainRecord(c)])),
    excluded_guests: excluded,
    variables: {},
  };
  // Converted when someone reads them (the service rarely does; toJson reads the raw values).
  let plainVariables: Record<string, PlainValue> | undefined;
  Object.defineProperty(out, 'variables', { get: () => (plainVariables ??= plainRecord(variables)), enumerable: true });
  Object.defineProperty(out, RAW, { value: raw, enumerable: false });
  return out;
}

function plainRecord(m: ReadonlyMap<string, Value>): Record<string, PlainValue> {
  const out: Record<string, PlainValue> = {};
  for (const [k, val] of m) out[k] = plain(val);
  return out;
}
