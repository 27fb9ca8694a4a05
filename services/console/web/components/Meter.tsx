export interface MeterProps {
  readonly label: string;
  readonly total: number;
  /** Allocated by Berth (claims). */
  readonly allocated: number;
  /** Used by something else (outside Berth's claims). */
  readonly other?: number;
  readonly format: (n: number) => string;
  /** The capacity sum, e.g. "32 cores × 2.0 = 64 vCPUs". */
  readonly caption?: string;
  readonly testId?: string;
}

/** A three-part meter: allocated by Berth / used by something else / free. The text carries the numbers. */
export function Meter({ label, total, allocated, other = 0, format, caption, testId }: MeterProps) {
  const free = Math.max(0, total - allocated - other);
  const pct = (n: number) => (total > 0 ? `${Math.min(100, (n / total) * 100)}%` : '0%');
  const hot = total > 0 && (allocated + other) / total >= 0.9;
  return (
    <div className="meter" data-testid={testId} data-total={total} data-allocated={allocated} data-other={other} data-free={free}>
      <div className="meter-head">
        <span className="meter-label">{label}</span>
        <span className="meter-text">
          {format(allocated)} allocated{other > 0 ? ` · ${format(other)} other` : ''} · {format(free)} free of {format(total)}
        </span>
      </div>
      <div className={hot ? 'meter-bar hot' : 'meter-bar'} aria-hidden="true">
        <span className="seg alloc" style={{ width: pct(allocated) }} />
        <span className="seg other" style={{ width: pct(other) }} />
      </div>
      {caption ? <div className="meter-caption">{caption}</div> : null}
    </div>
  );
}
