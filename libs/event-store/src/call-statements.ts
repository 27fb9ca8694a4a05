import { AsyncLocalStorage } from 'node:async_hooks';
import { callEnded, type CallDeadline } from '@berth/errors';

/** Stops the statement a backend runs (pg_cancel_backend from another connection); never rejects. */
export type CancelBackend = (pid: number) => Promise<void>;

/** One statement of a call in flight: the backend running it, and the cancel sent to it, if any. */
interface Running {
  readonly pid: number;
  readonly cancelBackend: CancelBackend;
  cancelling?: Promise<void>;
}

/**
 * The statements a call has in flight. Kysely 0.28 takes no AbortSignal per query (kysely#783), so
 * the store runs a call's work inside `withCall`, and each pool connection made by `createKysely`
 * reports the statements it starts for the current call here (see `trackStatement`). When the call
 * ends (deadline or client cancel), every statement it has running is cancelled by backend pid,
 * and a statement it starts afterwards is refused before it is sent (all but ROLLBACK, so a
 * transaction can still end cleanly).
 */
class CallStatements {
  private readonly running = new Set<Running>();
  private ended: Error | undefined;

  constructor(
    readonly call: CallDeadline,
    private readonly what: string,
  ) {}

  readonly end = (): void => {
    this.ended ??= callEnded(this.call, this.what);
    for (const r of this.running) r.cancelling ??= r.cancelBackend(r.pid);
  };

  refusal(text: string): Error | undefined {
    this.ended ??= callEnded(this.call, this.what);
    return this.ended !== undefined && !ROLLBACK.test(text) ? this.ended : undefined;
  }

  /**
   * Tracks a statement while it runs. It settles only after a cancel sent to its backend was
   * delivered, so its connection is not back in the pool (and running another call's statement)
   * when the cancel arrives; a cancel that finds the backend idle is ignored by Postgres.
   */
  track<T>(pid: number, cancelBackend: CancelBackend, out: Promise<T>): Promise<T> {
    const r: Running = { pid, cancelBackend };
    this.running.add(r);
    if (this.ended !== undefined) r.cancelling = cancelBackend(pid);
    const done = async (): Promise<void> => {
      this.running.delete(r);
      await r.cancelling;
    };
    return out.then(
      async (value) => {
        await done();
        return value;
      },
      async (e: unknown) => {
        await done();
        throw e;
      },
    );
  }
}

const ROLLBACK = /^\s*rollback\b/i;
const current = new AsyncLocalStorage<CallStatements>();

/**
 * Runs `fn` as the work of `call`: every statement it sends through a pool made by `createKysely`
 * (Kysely queries, transactions, the store's prepared statements) is cancelled when the call ends,
 * and one sent after it ended is refused with the call's DeadlineExceededError/CancelledError. A
 * call that already ended fails at once. Without a call, `fn` runs as it is.
 */
export async function withCall<T>(call: CallDeadline | undefined, what: string, fn: () => Promise<T>): Promise<T> {
  if (call === undefined) return fn();
  const ended = callEnded(call, what);
  if (ended !== undefined) throw ended;
  const statements = new CallStatements(call, what);
  call.signal.addEventListener('abort', statements.end, { once: true });
  try {
    return await current.run(statements, fn);
  } finally {
    call.signal.removeEventListener('abort', statements.end);
  }
}

/** Runs `fn` outside any call: for work shared by many calls (a batch statement, a NOTIFY) that no one call may cancel. */
export const outsideCalls = <T>(fn: () => T): T => current.exit(fn);

/**
 * Called by a pool connection for each statement it is asked to run (`start` sends it): inside a
 * call, the statement is refused once the call ended, else tracked until it settles. Only the
 * promise form of `client.query` is tracked: the store sends its statements that way (pg-pool's
 * callback path may run a waiting query in the async context of the caller that freed the
 * connection, which would attribute it to the wrong call).
 */
export function trackStatement(pid: unknown, cancelBackend: CancelBackend, args: readonly unknown[], start: () => unknown): unknown {
  const statements = current.getStore();
  if (statements === undefined || typeof pid !== 'number' || typeof args.at(-1) === 'function') return start();
  const refusal = statements.refusal(statementText(args));
  if (refusal !== undefined) return Promise.reject(refusal);
  const out = start();
  return out instanceof Promise ? statements.track(pid, cancelBackend, out) : out;
}

/** The call the current work is done for (see withCall), if any. */
export const currentCall = (): CallDeadline | undefined => current.getStore()?.call;

/** The SQL text of `client.query`'s arguments (a string, or a config object's `text`). */
export function statementText(args: readonly unknown[]): string {
  const first = args[0];
  return typeof first === 'string' ? first : typeof first === 'object' && first !== null ? String(Reflect.get(first, 'text')) : '';
}
