import type { FieldSet } from './collectors.ts';
import { add, div } from './operators.ts';
import { PyCallable, PyDict, PyException, PyObject, repr, toInt, typeError, type Value } from './values.ts';

/** One stored sample as the entity reads it (values may be converted lazily). */
export interface Sample {
  has(name: string): boolean;
  get(name: string): Value | undefined;
  /** The value if something has read it already, without converting it. */
  peek(name: string): Value | undefined;
}

function arity(name: string, args: readonly Value[], min: number, max = min): void {
  if (args.length < min || args.length > max) {
    const expected = min === max ? `${min}` : `${min} to ${max}`;
    throw typeError(`${name}() takes ${expected} positional argument(s) but ${args.length} were given`);
  }
}

function str(v: Value): string {
  // Names are looked up in dicts keyed by str; a non-str key can match nothing there.
  return typeof v === 'string' ? v : `\u0000${repr(v)}`;
}

/**
 * MOM's Entity (mom/Entity.py) as a policy sees it: the latest sample's valid statistics as
 * attributes (`guest.balloon_cur`), and the rule-accessible methods Prop, Stat, StatAvg, SetVar,
 * GetVar, Control, GetControl. `statistics` holds only complete samples, oldest first, at most
 * history-length of them (Monitor.collect never stores an incomplete one).
 */
export class Entity extends PyObject {
  readonly typeName = 'Entity';
  readonly controls = new Map<string, Value>();
  readonly variables = new Map<string, Value>();
  private readonly methods: ReadonlyMap<string, PyCallable>;

  constructor(
    readonly name: string,
    readonly properties: ReadonlyMap<string, Value>,
    readonly statistics: readonly Sample[],
    readonly fields: FieldSet,
  ) {
    super();
    const m = (n: string, fn: (args: readonly Value[]) => Value): [string, PyCallable] => [n, new PyCallable(`${name}.${n}`, fn)];
    this.methods = new Map([
      m('Prop', (a) => (arity('Prop', a, 1), this.prop(a[0]!))),
      m('Stat', (a) => (arity('Stat', a, 1, 2), this.stat(a[0]!, a[1] ?? null))),
      m('StatAvg', (a) => (arity('StatAvg', a, 1), this.statAvg(a[0]!))),
      m('SetVar', (a) => (arity('SetVar', a, 2), this.variables.set(str(a[0]!), a[1]!), null)),
      m('GetVar', (a) => (arity('GetVar', a, 1), this.variables.get(str(a[0]!)) ?? null)),
      m('Control', (a) => (arity('Control', a, 2), this.controls.set(str(a[0]!), a[1]!), null)),
      m('GetControl', (a) => (arity('GetControl', a, 1), this.controls.get(str(a[0]!)) ?? null)),
    ]);
  }

  private get latest(): Sample | undefined {
    return this.statistics[this.statistics.length - 1];
  }

  getAttr(attr: string): Value | undefined {
    const method = this.methods.get(attr);
    if (method !== undefined) return method;
    const latest = this.latest;
    if (latest !== undefined && this.fields.valid.has(attr) && latest.has(attr)) return latest.get(attr)!;
    return undefined;
  }

  /** A statistic of the latest sample only if the policy read it (so it may have changed it). */
  readStatistic(attr: string): Value | undefined {
    return this.latest?.peek(attr);
  }

  private prop(name: Value): Value {
    const v = this.properties.get(str(name));
    if (v === undefined) throw new PyException('KeyError', repr(name));
    return v;
  }

  private checkField(name: Value): string {
    const n = str(name);
    if (!this.fields.valid.has(n)) throw new PyException('KeyError', `Field ${repr(name)} is not declared in any collector.`);
    return n;
  }

  private stat(name: Value, dflt: Value): Value {
    const n = this.checkField(name);
    const latest = this.latest;
    if (latest === undefined) return null;
    const v = latest.get(n);
    return v === undefined ? dflt : v;
  }

  private statAvg(name: Value): Value {
    const n = this.checkField(name);
    if (this.statistics.length === 0) throw new PyException('EntityError', `Statistic '${n}' not available`);
    let total: Value = 0n;
    let count = 0;
    for (const row of this.statistics) {
      const v = row.get(n);
      if (v === undefined || v === null) continue;
      total = add(total, v);
      count++;
    }
    if (count === 0) return 0;
    const avg = div(total, BigInt(count));
    return typeof avg === 'number' ? avg : Number(avg);
  }
}

/** The guest list (`Guests`): MOM passes a dict's values view, iterable and sized, not a list. */
export class GuestsView extends PyObject {
  readonly typeName = 'dict_values';
  constructor(readonly guests: readonly Entity[]) {
    super();
  }
  getAttr(): Value | undefined {
    return undefined;
  }
  override len(): number {
    return this.guests.length;
  }
  override iter(): readonly Value[] {
    return this.guests;
  }
}

/** GuestIoTune.IoTune.IoTuneVals: attribute access into a dict of limits. */
export class IoTuneVals extends PyObject {
  readonly typeName = 'IoTuneVals';
  private map: Map<string, Value> | undefined;
  /** `raw` is converted entry by entry when read (most intervals read a few limits, if any). */
  constructor(
    private readonly raw: Readonly<Record<string, unknown>>,
    private readonly convert: (x: unknown) => Value,
  ) {
    super();
  }
  get vals(): Map<string, Value> {
    return (this.map ??= new Map(Object.entries(this.raw).map(([k, x]): [string, Value] => [k, this.convert(x)])));
  }
  getAttr(name: string): Value | undefined {
    if (name === 'vals') return new PyDict(this.vals);
    if (this.map !== undefined) return this.map.get(name);
    return Object.hasOwn(this.raw, name) ? this.convert(this.raw[name]) : undefined;
  }
}

const SETTERS: Record<string, string> = {
  setTotalBytesSec: 'total_bytes_sec',
  setReadBytesSec: 'read_bytes_sec',
  setWriteBytesSec: 'write_bytes_sec',
  setTotalIopsSec: 'total_iops_sec',
  setReadIopsSec: 'read_iops_sec',
  setWriteIopsSec: 'write_iops_sec',
};

/** GuestIoTune.IoTune: one device's limits; the setters change `current` (int or None). */
export class IoTune extends PyObject {
  readonly typeName = 'IoTune';
  constructor(
    readonly name: Value,
    readonly path: Value,
    readonly guaranteed: IoTuneVals,
    readonly maximum: IoTuneVals,
    readonly current: IoTuneVals,
  ) {
    super();
  }

  /** What MOM's IoTune controller sends: `{name, path, ioTune}`. */
  ioTune(): Value {
    return new PyDict(
      new Map<string, Value>([
        ['name', this.name],
        ['path', this.path],
        ['ioTune', new PyDict(this.current.vals)],
      ]),
    );
  }

  getAttr(attr: string): Value | undefined {
    switch (attr) {
      case 'name':
        return this.name;
      case 'path':
        return this.path;
      case 'guaranteed':
        return this.guaranteed;
      case 'maximum':
        return this.maximum;
      case 'current':
        return this.current;
      case 'ioTune':
        return new PyCallable('ioTune', (a) => (arity('ioTune', a, 0), this.ioTune()));
      default:
        break;
    }
    const key = SETTERS[attr];
    if (key === undefined) return undefined;
    return new PyCallable(attr, (a) => {
      arity(attr, a, 1);
      this.current.vals.set(key, a[0] === null ? null : toInt(a[0]!));
      return null;
    });
  }
}
