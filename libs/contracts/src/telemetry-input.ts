/**
 * How a telemetry decision records what its interval read (`DecisionRecorded.input`, schema 2), so that
 * it can be replayed. An interval reads the history window of the host and its guests (MOM keeps 10
 * samples each); consecutive decisions of a host share most of it (the window slides by the samples
 * taken in between). A recorded input therefore holds, per entity, how many samples of the previous
 * decision's window to drop and the samples to add (`window = base.slice(drop) ++ add`), and each added
 * sample as a row of numbers in the order of the decision's statistic names (`null`: not in the sample).
 * A keyframe (`base: null`) is complete in itself; `depth` counts the deltas since the last keyframe,
 * so a replay reads at most that many earlier decisions. Pure functions; docs/events.md.
 */
import type { DiskIoTuneWire, TelemetryCapabilitiesWire } from './telemetry.ts';

export type SampleWire = Readonly<Record<string, number>>;
export type PropsWire = Readonly<Record<string, string | number>>;

/** What one interval of one host read: MOM's input (`berth policy eval`'s shape) plus what the controls depend on. */
export interface DecisionInput {
  readonly mom: {
    readonly host: readonly SampleWire[];
    readonly host_props: PropsWire;
    readonly guests: readonly {
      readonly name: string;
      readonly uuid: string;
      readonly props: PropsWire;
      readonly history: readonly SampleWire[];
      /** The guest's disks' I/O limits at the interval (MOM's io_tune, io_tune_current of its latest sample). */
      readonly ioTune?: readonly DiskIoTuneWire[];
    }[];
    readonly config: { readonly history_length: number; readonly host_collectors?: readonly string[] };
  };
  readonly capabilities: TelemetryCapabilitiesWire;
  /** The I/O limits last sent per `<vm>/<device>` (JSON). */
  readonly ioTuneApplied: Readonly<Record<string, string>>;
}

/** One entity's window: the base window without its first `drop` samples, then `add` (rows of statistic values). */
export interface RecordedSamples {
  readonly drop: number;
  readonly add: readonly (readonly (number | null)[])[];
}

export interface RecordedInput {
  /** The decision (event id) of the same host this one is a delta against; null for a keyframe. */
  readonly base: string | null;
  /** Deltas since the last keyframe: 0 for a keyframe. */
  readonly depth: number;
  /** The statistic names the rows of `add` follow, for the host and for the guests. */
  readonly stats: { readonly host: readonly string[]; readonly guest: readonly string[] };
  readonly mom: {
    readonly host: RecordedSamples;
    readonly host_props: PropsWire;
    readonly guests: readonly {
      readonly name: string;
      readonly uuid: string;
      readonly props: PropsWire;
      readonly history: RecordedSamples;
      /** Recorded whole (a few disks): not a statistic of the sample rows. */
      readonly ioTune?: readonly DiskIoTuneWire[];
    }[];
    readonly config: { readonly history_length: number; readonly host_collectors?: readonly string[] };
  };
  readonly capabilities: TelemetryCapabilitiesWire;
  readonly ioTuneApplied: Readonly<Record<string, string>>;
}

function sameSample(a: SampleWire, b: SampleWire): boolean {
  if (a === b) return true;
  let n = 0;
  for (const k in a) {
    if (a[k] !== b[k]) return false;
    n++;
  }
  let m = 0;
  for (const _ in b) m++;
  return n === m;
}

/** The fewest samples to drop from the front of `base` so that what is left begins `cur`. */
function dropOf(base: readonly SampleWire[], cur: readonly SampleWire[]): number {
  for (let d = Math.max(0, base.length - cur.length); d < base.length; d++) {
    let ok = true;
    for (let i = d; ok && i < base.length; i++) ok = sameSample(base[i]!, cur[i - d]!);
    if (ok) return d;
  }
  return base.length;
}

class Columns {
  readonly names: string[] = [];
  private readonly index = new Map<string, number>();
  row(s: SampleWire): (number | null)[] {
    const row: (number | null)[] = [];
    for (const k in s) {
      let i = this.index.get(k);
      if (i === undefined) {
        i = this.names.push(k) - 1;
        this.index.set(k, i);
      }
      while (row.length < i) row.push(null);
      row[i] = s[k]!;
    }
    return row;
  }
}

function samplesOf(base: readonly SampleWire[], cur: readonly SampleWire[], cols: Columns): RecordedSamples {
  const drop = dropOf(base, cur);
  return { drop, add: cur.slice(base.length - drop).map((s) => cols.row(s)) };
}

/**
 * Records `input` as a delta against `base` (the previous decision of the same host, with its id and
 * depth), or as a keyframe when there is no base.
 */
export function encodeDecisionInput(
  input: DecisionInput,
  base?: { readonly id: string; readonly depth: number; readonly input: DecisionInput },
): RecordedInput {
  const hostCols = new Columns();
  const guestCols = new Columns();
  const before = new Map(base?.input.mom.guests.map((g) => [g.name, g.history]));
  const mom = input.mom;
  return {
    base: base?.id ?? null,
    depth: base ? base.depth + 1 : 0,
    mom: {
      host: samplesOf(base?.input.mom.host ?? [], mom.host, hostCols),
      host_props: mom.host_props,
      guests: mom.guests.map((g) => ({
        name: g.name,
        uuid: g.uuid,
        props: g.props,
        history: samplesOf(before.get(g.name) ?? [], g.history, guestCols),
        ...(g.ioTune !== undefined ? { ioTune: g.ioTune } : {}),
      })),
      config: mom.config,
    },
    stats: { host: hostCols.names, guest: guestCols.names },
    capabilities: input.capabilities,
    ioTuneApplied: input.ioTuneApplied,
  };
}

function windowOf(base: readonly SampleWire[], rec: RecordedSamples, names: readonly string[], what: string): SampleWire[] {
  if (rec.drop > base.length) throw new Error(`${what}: drops ${rec.drop} samples of a base window of ${base.length}`);
  const out = base.slice(rec.drop);
  for (const row of rec.add) {
    if (row.length > names.length) throw new Error(`${what}: a row of ${row.length} values for ${names.length} statistics`);
    const s: Record<string, number> = {};
    row.forEach((v, i) => {
      if (v !== null) s[names[i]!] = v;
    });
    out.push(s);
  }
  return out;
}

/**
 * The input a recorded one stands for, given the input of its base decision (itself decoded); throws
 * when a delta comes without its base or does not fit it.
 */
export function decodeDecisionInput(rec: RecordedInput, base?: DecisionInput): DecisionInput {
  if (rec.base !== null && base === undefined) throw new Error(`the input is a delta against decision ${rec.base}, which was not given`);
  const before = new Map(rec.base === null ? [] : base?.mom.guests.map((g) => [g.name, g.history]));
  const from = rec.base === null ? undefined : base;
  return {
    mom: {
      host: windowOf(from?.mom.host ?? [], rec.mom.host, rec.stats.host, 'host'),
      host_props: rec.mom.host_props,
      guests: rec.mom.guests.map((g) => ({
        name: g.name,
        uuid: g.uuid,
        props: g.props,
        history: windowOf(before.get(g.name) ?? [], g.history, rec.stats.guest, `guest ${g.name}`),
        ...(g.ioTune !== undefined ? { ioTune: g.ioTune } : {}),
      })),
      config: rec.mom.config,
    },
    capabilities: rec.capabilities,
    ioTuneApplied: rec.ioTuneApplied,
  };
}
