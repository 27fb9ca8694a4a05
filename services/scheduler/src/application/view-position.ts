/**
 * How current the scheduler's view is, in inventory's terms: the log position (transaction id,
 * global position) up to which inventory's snapshot projection had written the host snapshots the
 * view holds. A VmRequested carries its own log position; a view that has reached it has seen every
 * host change committed before the request (the projection reads the log in that order, below every
 * open transaction), so "fits nowhere" decided on it is not an artefact of lag.
 */
export interface LogPosition {
  readonly transactionId: string;
  readonly position: string;
}

const digits = /^\d+$/;

export function isLogPosition(x: unknown): x is LogPosition {
  if (typeof x !== 'object' || x === null) return false;
  const p = x as Partial<LogPosition>;
  return typeof p.transactionId === 'string' && digits.test(p.transactionId) && typeof p.position === 'string' && digits.test(p.position);
}

export function compareLogPositions(a: LogPosition, b: LogPosition): number {
  const t = BigInt(a.transactionId) - BigInt(b.transactionId);
  if (t !== 0n) return t < 0n ? -1 : 1;
  const p = BigInt(a.position) - BigInt(b.position);
  return p === 0n ? 0 : p < 0n ? -1 : 1;
}

/** The view's position, advanced by the snapshot watch; placements wait on it (never backwards). */
export class ViewPosition {
  private at: LogPosition | undefined;
  private readonly waiters = new Set<{ readonly target: LogPosition; readonly resolve: (reached: boolean) => void }>();

  current(): LogPosition | undefined {
    return this.at;
  }

  reached(target: LogPosition): boolean {
    return this.at !== undefined && compareLogPositions(this.at, target) >= 0;
  }

  advance(p: LogPosition): void {
    if (this.at !== undefined && compareLogPositions(p, this.at) <= 0) return;
    this.at = p;
    for (const w of this.waiters) {
      if (!this.reached(w.target)) continue;
      this.waiters.delete(w);
      w.resolve(true);
    }
  }

  /** Resolves true once the view has reached `target`, false after `millis` without. */
  waitFor(target: LogPosition, millis: number): Promise<boolean> {
    if (this.reached(target)) return Promise.resolve(true);
    return new Promise((resolve) => {
      const w = {
        target,
        resolve: (reached: boolean) => {
          clearTimeout(timer);
          resolve(reached);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(w);
        resolve(false);
      }, millis);
      this.waiters.add(w);
    });
  }
}

/** Inventory's record in `berth-view-position`: the log position and the host bucket's revision it covers. */
export interface PublishedPosition extends LogPosition {
  readonly hostsRevision: number;
}

export function isPublishedPosition(x: unknown): x is PublishedPosition {
  if (!isLogPosition(x)) return false;
  const r = (x as Partial<PublishedPosition>).hostsRevision;
  return typeof r === 'number' && Number.isSafeInteger(r) && r >= 0;
}

/**
 * Joins the two buckets, which are two streams read in no common order: a published position
 * advances the view's position only once the host watch has applied the host bucket up to its
 * `hostsRevision` (every snapshot written before it). Positions and revisions only grow, so the
 * pending ones are kept in order and released from the front.
 */
export class PositionGate {
  private applied = 0;
  private readonly pending: PublishedPosition[] = [];

  constructor(private readonly position: ViewPosition) {}

  /** The host watch applied (or skipped as stale) the host bucket's entry at `revision`. */
  hostsApplied(revision: number): void {
    if (revision <= this.applied) return;
    this.applied = revision;
    this.release();
  }

  published(p: PublishedPosition): void {
    const last = this.pending.at(-1);
    // A newer record covering no more hosts replaces the waiting one (one waits per revision).
    if (last !== undefined && p.hostsRevision <= last.hostsRevision) this.pending.pop();
    this.pending.push(p);
    this.release();
  }

  private release(): void {
    while (this.pending.length > 0 && this.pending[0]!.hostsRevision <= this.applied) this.position.advance(this.pending.shift()!);
  }
}
