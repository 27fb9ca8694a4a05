import { DEFAULT_HISTORY_LENGTH, fieldsOf, VDSM_GUEST_COLLECTORS, VDSM_HOST_COLLECTORS, type FieldSet } from './collectors.ts';
import { Entity, GuestsView, IoTune } from './entity.ts';
import { EvalError, Evaluator } from './evaluator.ts';
import { dictOf, GUEST_META, monitor, validate, type EvalInput, type InputSample } from './input.ts';
import type { PolicySet } from './policy-set.ts';
import { eq, pyAbs } from './operators.ts';
import { PyCallable, PyDict, PyException, type Value } from './values.ts';
import { plain, RAW, type PlainValue, type RawOutput } from './output.ts';

export type { EvalConfig, EvalInput, GuestInput, InputSample } from './input.ts';

export interface EvalOutput {
  /** true: evaluated; false: an error ended the interval (no control); null: not evaluated (host not ready). */
  readonly ok: boolean | null;
  readonly error?: string;
  readonly host: Readonly<Record<string, PlainValue>>;
  readonly guests: Readonly<Record<string, Readonly<Record<string, PlainValue>>>>;
  readonly excluded_guests: readonly string[];
  readonly variables: Readonly<Record<string, PlainValue>>;
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
