import { backoffMillis, consoleLogger, pause, Wakeup, type LoopLogger } from './wakeup.ts';
import type { GlobalPosition } from './types.ts';
import type { AnyKysely } from './db.ts';

/** A background loop tailing the global read (relay or projection). */
export interface TailingLoop {
  /** Stops after the current step; resolves when the loop has ended and released its connections. */
  stop(): Promise<void>;
  /** Resolves when the loop ends (stop() or the caller's signal). */
  readonly done: Promise<void>;
  /** Last position handled and checkpointed, null before the first batch. */
  checkpoint(): GlobalPosition | null;
  /** Events handled since start. */
  handled(): number;
}

export interface LoopOptions {
  readonly db: AnyKysely;
  readonly channel: string;
  readonly what: string;
  readonly pollMillis: number;
  /** First delay after a failed step, doubling per failure up to 30 s. */
  readonly retryMillis?: number;
  /**
   * After a batch that was not full, wait this long before reading again, so that what arrives
   * meanwhile is handled as one batch: fewer, larger batches, each up to this much later. Default 0.
   */
  readonly lingerMillis?: number;
  readonly signal?: AbortSignal;
  readonly logger?: LoopLogger;
}

export interface StepResult {
  readonly count: number;
  readonly checkpoint: GlobalPosition | null;
  /** True when the batch was full, so more is probably waiting. */
  readonly more: boolean;
  /** True when committed events wait behind an older open transaction (see heldBackAfter). */
  readonly heldBack?: boolean;
}

/** First and largest re-check delay while events are held back by an open transaction. */
const HELD_BACK_FIRST_MILLIS = 10;
const HELD_BACK_MAX_MILLIS = 250;

/** Runs `step` until stopped: at once after a full batch, on NOTIFY or poll otherwise, with backoff after errors. */
export function startTailingLoop(opts: LoopOptions, step: () => Promise<StepResult>): TailingLoop {
  const controller = new AbortController();
  const signal = opts.signal === undefined ? controller.signal : AbortSignal.any([controller.signal, opts.signal]);
  const logger = opts.logger ?? consoleLogger;
  let checkpoint: GlobalPosition | null = null;
  let handled = 0;
  const run = async (): Promise<void> => {
    const wakeup = await Wakeup.start(opts.db, opts.channel, logger);
    let failures = 0;
    let heldBackDelay = HELD_BACK_FIRST_MILLIS;
    try {
      while (!signal.aborted) {
        try {
          const r = await step();
          failures = 0;
          handled += r.count;
          if (r.checkpoint !== null) checkpoint = r.checkpoint;
          if (r.more) continue;
          const linger = r.count > 0 ? (opts.lingerMillis ?? 0) : 0;
          if (linger > 0) {
            await pause(linger, signal);
            // Events held back at the last read had their NOTIFY already: look again at once.
            if (r.heldBack === true) continue;
          } else if (r.heldBack === true) {
            await wakeup.wait(Math.min(opts.pollMillis, heldBackDelay), signal);
            heldBackDelay = Math.min(heldBackDelay * 2, HELD_BACK_MAX_MILLIS);
            continue;
          }
          heldBackDelay = HELD_BACK_FIRST_MILLIS;
          await wakeup.wait(opts.pollMillis, signal);
        } catch (err) {
          const delay = backoffMillis(opts.retryMillis ?? 250, failures++);
          logger.error({ err: err instanceof Error ? err.message : String(err), retryInMillis: delay }, `${opts.what} failed; retrying`);
          await pause(delay, signal);
        }
      }
    } finally {
      await wakeup.close();
    }
  };
  const done = run();
  return {
    stop: async () => {
      controller.abort();
      await done;
    },
    done,
    checkpoint: () => checkpoint,
    handled: () => handled,
  };
}
