import type { MigrateOptions, MigrationProgress } from '../driver.ts';

/**
 * The simulator's model of a live migration, in simulated seconds: pre-copy passes over guest memory
 * at the bandwidth while the guest dirties memory at its dirty rate; a pass ends when what it set out
 * to send is sent, and the migration switches over when what was dirtied meanwhile fits in the
 * allowed downtime. Auto-converge throttles the dirty rate as QEMU does (20% from the third pass,
 * +10% per pass, at most 99%); post-copy (when allowed) switches over after the first pass and sends
 * the rest from the destination. A guest that dirties memory at least as fast as it can be sent
 * never converges without one of the two.
 */
export interface SimMigrationSettings {
  /** Bandwidth when the migration names none (default 1 GiB/s). */
  readonly defaultBandwidthBytesPerSecond?: number;
  /** How fast guests dirty memory (default 0: idle guests, one pass). `SimulatorFleet.setDirtyRate` sets it per VM. */
  readonly dirtyRateBytesPerSecond?: number;
  /** Downtime allowed at the switch-over when the migration names none (default 300 ms, QEMU's). */
  readonly defaultMaxDowntimeMillis?: number;
  /** Simulated seconds per real second (default 1): 1000 moves a 1 GiB guest at 1 GiB/s in about 1 ms. */
  readonly timeScale?: number;
  /** Real milliseconds between simulation steps (default 10). */
  readonly stepMillis?: number;
  /** Default real milliseconds between progress reports when the migration names none (default 1000). */
  readonly progressIntervalMillis?: number;
}

export type SimMigrationFailure =
  /** The destination refuses to define the domain: rejects `failed-permanent` before any data moves. */
  | 'destination-define'
  /** The connection breaks after `atFraction` of the first pass: rejects `failed-transient`. */
  | 'mid-way'
  /** The guest dirties memory twice as fast as it can be sent, throttling or not: runs until aborted. */
  | 'never-converges'
  /** Post-copy loses its connection after `atFraction` of the post-copy data: resolves `postcopy-paused`. Without post-copy allowed, it breaks the pre-copy like `mid-way`. */
  | 'postcopy-connection-loss'
  /**
   * The transfer stops after `atFraction` of the first pass (a hung link, a wedged QEMU: the job
   * stays, its counts stand still) until `SimulatorFleet.releaseStall(vmId)`; then it goes on.
   */
  | 'stall';

export interface SimMigrationFailureRule {
  readonly failure: SimMigrationFailure;
  /** Only migrations of this VM / from this host / to this host (any when absent). */
  readonly vmId?: string;
  readonly sourceHostId?: string;
  readonly destinationHostId?: string;
  /** How many matching migrations it hits (default 1). */
  readonly count?: number;
  /** Where in the transfer it strikes (0..1, default 0.5). */
  readonly atFraction?: number;
}

const MIB = 1024 ** 2;

export type StepOutcome =
  | { readonly kind: 'running' }
  | { readonly kind: 'switched-to-postcopy' }
  | { readonly kind: 'completed' }
  | { readonly kind: 'connection-lost'; readonly phase: 'precopy' | 'postcopy' };

/** The transfer of one migration, advanced in simulated time. Pure: no timers, no I/O. */
export class MigrationModel {
  private readonly memory: number;
  private readonly bandwidth: number;
  private readonly postCopyBandwidth: number;
  private readonly downtimeSeconds: number;
  private readonly autoConverge: boolean;
  private readonly postCopyAllowed: boolean;
  private dirtyRate: number;
  private throttle = 0;
  private passLeft: number;
  private dirty = 0;
  private processed = 0;
  private postLeft = 0;
  iteration = 1;
  phase: 'precopy' | 'postcopy' = 'precopy';
  done = false;
  /** Held by an injected `stall` at its point (the transfer stands still until `clearFailure`). */
  stalled = false;

  constructor(
    memoryBytes: number,
    opts: Pick<MigrateOptions, 'bandwidthMiBps' | 'postCopyBandwidthMiBps' | 'maxDowntimeMillis' | 'autoConverge' | 'postCopy'>,
    settings: SimMigrationSettings,
    dirtyRateBytesPerSecond: number,
    private failure?: { readonly failure: SimMigrationFailure; readonly atFraction: number },
  ) {
    this.memory = Math.max(1, memoryBytes);
    this.bandwidth =
      opts.bandwidthMiBps !== undefined && opts.bandwidthMiBps > 0
        ? opts.bandwidthMiBps * MIB
        : (settings.defaultBandwidthBytesPerSecond ?? 1024 ** 3);
    this.postCopyBandwidth =
      opts.postCopyBandwidthMiBps !== undefined && opts.postCopyBandwidthMiBps > 0 ? opts.postCopyBandwidthMiBps * MIB : this.bandwidth;
    this.downtimeSeconds = (opts.maxDowntimeMillis ?? settings.defaultMaxDowntimeMillis ?? 300) / 1000;
    this.autoConverge = opts.autoConverge ?? false;
    this.postCopyAllowed = opts.postCopy ?? false;
    this.dirtyRate = failure?.failure === 'never-converges' ? 2 * this.bandwidth : dirtyRateBytesPerSecond;
    this.passLeft = this.memory;
  }

  private effectiveDirtyRate(): number {
    if (this.failure?.failure === 'never-converges') return this.dirtyRate;
    return this.dirtyRate * (1 - this.throttle);
  }

  /** Advances `seconds` of simulated time and says what happened (at most one transition per call). */
  advance(seconds: number): StepOutcome {
    let dt = seconds;
    while (dt > 0 && !this.done) {
      if (this.phase === 'postcopy') {
        const lossAt = this.failure?.failure === 'postcopy-connection-loss' ? this.postTotal * (1 - this.failure.atFraction) : -1;
        const toLoss = this.postLeft - lossAt;
        const step = Math.min(dt, Math.max(0, (lossAt >= 0 ? toLoss : this.postLeft) / this.postCopyBandwidth));
        const sent = this.postCopyBandwidth * step;
        this.postLeft = Math.max(0, this.postLeft - sent);
        this.processed += sent;
        dt -= step;
        if (lossAt >= 0 && this.postLeft <= lossAt + 1e-6) return { kind: 'connection-lost', phase: 'postcopy' };
        if (this.postLeft <= 1e-6) {
          this.postLeft = 0;
          this.done = true;
          return { kind: 'completed' };
        }
        continue;
      }
      const stalls = this.failure?.failure === 'stall';
      const breaks =
        this.failure &&
        (stalls || this.failure.failure === 'mid-way' || (this.failure.failure === 'postcopy-connection-loss' && !this.postCopyAllowed));
      const breakAt = breaks && this.iteration === 1 && this.failure ? this.memory * (1 - this.failure.atFraction) : -1;
      if (stalls && breakAt >= 0 && this.passLeft <= breakAt + 1e-6) {
        // Stands still for the rest of the step (and every step until released).
        this.stalled = true;
        return { kind: 'running' };
      }
      const target = breakAt >= 0 ? breakAt : 0;
      const step = Math.min(dt, Math.max(0, (this.passLeft - target) / this.bandwidth));
      const sent = Math.min(this.passLeft, this.bandwidth * step);
      this.passLeft -= sent;
      this.processed += sent;
      this.dirty = Math.min(this.memory, this.dirty + this.effectiveDirtyRate() * step);
      dt -= step;
      if (breakAt >= 0 && this.passLeft <= breakAt + 1e-6) {
        if (stalls) {
          this.stalled = true;
          return { kind: 'running' };
        }
        return { kind: 'connection-lost', phase: 'precopy' };
      }
      if (this.passLeft > 1e-6) continue;
      // End of a pass. An injected post-copy loss needs a post-copy phase to strike in.
      const forcePostCopy = this.postCopyAllowed && this.failure?.failure === 'postcopy-connection-loss';
      if (!forcePostCopy && this.dirty <= this.bandwidth * this.downtimeSeconds) {
        this.processed += this.dirty;
        this.dirty = 0;
        this.passLeft = 0;
        this.done = true;
        return { kind: 'completed' };
      }
      if (this.postCopyAllowed) {
        this.phase = 'postcopy';
        this.postLeft = this.dirty;
        this.postTotal = this.dirty;
        this.passLeft = 0;
        this.dirty = 0;
        return { kind: 'switched-to-postcopy' };
      }
      this.iteration++;
      this.passLeft = this.dirty;
      this.dirty = 0;
      if (this.autoConverge && this.iteration >= 3) this.throttle = this.throttle === 0 ? 0.2 : Math.min(0.99, this.throttle + 0.1);
    }
    return { kind: 'running' };
  }

  private postTotal = 0;

  /** Whether the migration carries this injected failure still. */
  hasFailure(f: SimMigrationFailure): boolean {
    return this.failure?.failure === f;
  }

  /** The injected failure struck and was dealt with (a resumed post-copy): the rest runs clean. */
  clearFailure(): void {
    this.failure = undefined;
    this.stalled = false;
  }

  progress(elapsedMillis: number): MigrationProgress {
    const remaining = this.phase === 'postcopy' ? this.postLeft : this.passLeft + this.dirty;
    return {
      dataTotalBytes: Math.round(this.processed + remaining),
      dataProcessedBytes: Math.round(this.processed),
      dataRemainingBytes: Math.round(remaining),
      memoryDirtyRateBytesPerSecond: Math.round(this.phase === 'postcopy' ? 0 : this.effectiveDirtyRate()),
      iteration: this.iteration,
      elapsedMillis,
      phase: this.phase,
    };
  }
}
