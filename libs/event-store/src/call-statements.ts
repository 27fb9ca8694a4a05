import { AsyncLocalStorage } from 'node:async_hooks';
import type pg from 'pg';
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
 * The statements a call has in flight. Kysely 0.28 takes no AbortSignal per query (kysely#783): each
 * pool connection made by `createKysely` reports the statements it starts to the call it is checked
 * out for (see `trackStatement`). The store hands its connections their call explicitly (`openCall`,
 * `checkoutFor`); other code runs its work inside `withCall`, which tells the connections through an
 * AsyncLocalStorage. When the call ends (deadline or client cancel), every statement it has running
 * is cancelled by backend pid, and a statement it starts afterwards is refused before it is sent (all
 * but ROLLBACK, so a transaction can still end cleanly).
 */
export class CallStatements {
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

/**
 * The statements of `call` (none without one), watching its signal until `close`: a call that
 * already ended fails at once with its DeadlineExceededError/CancelledError. The store opens one per
 * operation and hands it to the connections the operation checks out (`checkoutFor`).
 */
export function openCall(call: CallDeadline | undefined, what: string): OpenCall | undefined {
  if (call === undefined) return undefined;
  const ended = callEnded(call, what);
  if (ended !== undefined) throw ended;
  const statements = new CallStatements(call, what);
  return { statements, close: onCallEnd(call, statements.end) };
}

const watchers = new WeakMap<AbortSignal, Set<() => void>>();

/**
 * Runs `fn` once when `call` ends (its signal aborts), as `addEventListener('abort', fn, { once: true })`
 * would; returns what stops watching. A call with `onEnd` (the gRPC kit's) watches itself. A signal gets one listener however many watch it: a call's
 * command, its reads and its statements each watch it, and an AbortSignal listener costs far more
 * than a Set entry.
 */
export function onCallEnd(call: CallDeadline, fn: () => void): () => void {
  // A call that can be watched without its signal (the gRPC kit's: no AbortController, no timer per call).
  if (call.onEnd !== undefined) return call.onEnd(fn);
  const { signal } = call;
  let set = watchers.get(signal);
  if (set === undefined) {
    const fns = new Set<() => void>();
    set = fns;
    watchers.set(signal, fns);
    signal.addEventListener(
      'abort',
      () => {
        watchers.delete(signal);
        // As an event's dispatch: those watching when it fired, less any unwatched meanwhile.
        for (const f of [...fns]) {
          if (!fns.delete(f)) continue;
          try {
            f();
          } catch (e) {
            queueMicrotask(() => {
              throw e;
            });
          }
        }
      },
      { once: true },
    );
  }
  const fns = set;
  fns.add(fn);
  return () => void fns.delete(fn);
}

export interface OpenCall {
  readonly statements: CallStatements;
  close(): void;
}

/** Runs `fn` with the statements of `call` (see openCall), closed when it settles. */
export async function forCall<T>(
  call: CallDeadline | undefined,
  what: string,
  fn: (s: CallStatements | undefined) => Promise<T>,
): Promise<T> {
  const open = openCall(call, what);
  if (open === undefined) return fn(undefined);
  try {
    return await fn(open.statements);
  } finally {
    open.close();
  }
}

/** The call a pool connection is checked out for by the store (see checkoutFor), if any. */
const CHECKED_OUT_FOR = Symbol('berth.checkedOutFor');
type Checkout = pg.PoolClient & { [CHECKED_OUT_FOR]?: CallStatements | undefined };

/**
 * A connection of `pool` whose statements belong to `statements` until it is released (without a
 * call: as `pool.connect()`, and a statement is attributed only through withCall).
 */
export async function checkoutFor(pool: pg.Pool, statements: CallStatements | undefined): Promise<pg.PoolClient> {
  const client: Checkout = await pool.connect();
  if (statements === undefined) return client;
  client[CHECKED_OUT_FOR] = statements;
  // pg-pool gives each checkout a release of its own; it is put back when called, so a second release still throws.
  const release = client.release.bind(client);
  client.release = (err) => {
    client[CHECKED_OUT_FOR] = undefined;
    client.release = release;
    release(err);
  };
  return client;
}

/**
 * Work of calls that cannot be handed their connections: code outside the store (a service's read
 * model) runs inside `withCall`, which an AsyncLocalStorage carries to the connections it uses.
 * The storage is enabled only while such work runs: an enabled AsyncLocalStorage adds a property to
 * every promise the process makes (Node 20's init hook), which the store's own hot paths, handing
 * their connections the call directly, do not need.
 */
const current = new AsyncLocalStorage<CallStatements>();
let inWithCall = 0;

/**
 * Runs `fn` as the work of `call`: every statement it sends through a pool made by `createKysely`
 * (Kysely queries, transactions, the store's prepared statements) is cancelled when the call ends,
 * and one sent after it ended is refused with the call's DeadlineExceededError/CancelledError. A
 * call that already ended fails at once. Without a call, `fn` runs as it is.
 */
export async function withCall<T>(call: CallDeadline | undefined, what: string, fn: () => Promise<T>): Promise<T> {
  const open = openCall(call, what);
  if (open === undefined) return fn();
  inWithCall += 1;
  try {
    return await current.run(open.statements, fn);
  } finally {
    open.close();
    inWithCall -= 1;
    // No work of a call left to carry: promises made from now on need no slot for it.
    if (inWithCall === 0) current.disable();
  }
}

/** Runs `fn` outside any call: for work shared by many calls (a batch statement, a NOTIFY) that no one call may cancel. */
export const outsideCalls = <T>(fn: () => T): T => current.exit(fn);

/** The statements a connection's next statement belongs to: the call it was checked out for, else withCall's. */
function statementsOf(client: object): CallStatements | undefined {
  return (client as Checkout)[CHECKED_OUT_FOR] ?? current.getStore();
}

/**
 * Called by a pool connection for each statement it is asked to run (`start` sends it): for a call,
 * the statement is refused once the call ended, else tracked until it settles. Only the promise
 * form of `client.query` is tracked: the store sends its statements that way (pg-pool's callback
 * path may run a waiting query in the async context of the caller that freed the connection, which
 * would attribute it to the wrong call).
 */
export function trackStatement(
  client: object,
  pid: unknown,
  cancelBackend: CancelBackend,
  args: readonly unknown[],
  start: () => unknown,
): unknown {
  const statements = statementsOf(client);
  if (statements === undefined || typeof pid !== 'number' || typeof args.at(-1) === 'function') return start();
  const refusal = statements.refusal(statementText(args));
  if (refusal !== undefined) return Promise.reject(refusal);
  const out = start();
  return out instanceof Promise ? statements.track(pid, cancelBackend, out) : out;
}

/** The call a connection's statement is sent for (see statementsOf), if any. */
export const callOf = (client: object): CallDeadline | undefined => statementsOf(client)?.call;

/** The SQL text of `client.query`'s arguments (a string, or a config object's `text`). */
export function statementText(args: readonly unknown[]): string {
  const first = args[0];
  return typeof first === 'string' ? first : typeof first === 'object' && first !== null ? String(Reflect.get(first, 'text')) : '';
}
