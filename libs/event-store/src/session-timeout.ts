import { millisLeft } from '@berth/errors';
import type pg from 'pg';
import { callOf, statementText } from './call-statements.ts';

type Query = (...args: unknown[]) => unknown;

/** How far above the bound a held session value may be and still be kept: a quarter, at least 100 ms. */
const slackOf = (bound: number): number => Math.max(100, bound / 4);
const BEGIN = /^\s*(begin|start\s+transaction)\b/i;

/**
 * A server-side bound for statements sent outside a transaction (a transaction sets its own with
 * `set_config('statement_timeout', ..., true)`, see store.ts): a statement of a call with a deadline
 * runs under a session `statement_timeout` of at least the time the client will wait for it (the
 * call's time left, capped by the pool's query timeout) and at most a quarter (100 ms) above it, so
 * Postgres stops it itself when the cancel sent at the deadline cannot be (see openCall); a statement
 * of no call runs under the session's default or a value no shorter than the query timeout, which
 * cuts nothing the client still waits for.
 *
 * The connection remembers the value it holds: a `SET statement_timeout` (one round trip of its own)
 * goes out only when the held value does not fit, and is chosen in the middle of the band, so calls
 * with like budgets (the gRPC clients' default is 30 s, above the 20 s query timeout) reuse it. A
 * value never below the client's wait means a statement_timeout fires only once the call's deadline
 * passed, which the gRPC kit maps to DEADLINE_EXCEEDED.
 */
export function boundBySession(client: pg.PoolClient, query: Query, queryTimeoutMillis: number): (args: readonly unknown[]) => unknown {
  const clientWait = queryTimeoutMillis > 0 ? queryTimeoutMillis : Infinity;
  let held: Held = 'default';
  return (args) => {
    if (client.getTransactionStatus() !== 'I') return query(...args);
    const call = callOf(client);
    const left = call === undefined ? Infinity : Math.max(1, millisLeft(call));
    // A transaction for a call with a deadline bounds itself once it began.
    if (fits(held, left, clientWait) || (left !== Infinity && BEGIN.test(statementText(args)))) return query(...args);
    const wait = Math.min(left, clientWait);
    const next = left === Infinity ? 'default' : Math.ceil(wait + slackOf(wait) / 2);
    held = 'unknown';
    const setting = (query(next === 'default' ? 'RESET statement_timeout' : `SET statement_timeout = ${next}`) as Promise<unknown>).then(
      () => void (held = next),
    );
    const run = (): unknown => query(...args);
    const first = args[0];
    const submittable = typeof first === 'object' && first !== null && typeof Reflect.get(first, 'submit') === 'function';
    if (!submittable && typeof args.at(-1) !== 'function') return setting.then(run);
    // Callback form (pg-pool's pool.query) and submittables (cursors) answer through their own channel.
    void setting.then(run, run);
    return submittable ? first : undefined;
  };
}

/** The session value a connection holds: what it was started with, a value we set, or unknown after a failed SET. */
type Held = number | 'default' | 'unknown';

/** Whether the held value bounds a statement with `left` ms to its call's deadline (Infinity: no call) as described above. */
function fits(held: Held, left: number, clientWait: number): boolean {
  if (left === Infinity) return held === 'default' || (typeof held === 'number' && held >= clientWait);
  const wait = Math.min(left, clientWait);
  return typeof held === 'number' && held >= wait && held <= wait + slackOf(wait);
}
