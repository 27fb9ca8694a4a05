import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { AnyKysely } from './db.ts';
import type { SchemaOptions } from './schema.ts';
import { checkoutFor, trackStatement, type CallStatements, type CancelBackend } from './call-statements.ts';
import { boundBySession } from './session-timeout.ts';

export interface CreateKyselyOptions extends SchemaOptions {
  /** Pool size; default 10. */
  readonly max?: number;
  readonly applicationName?: string;
  /** How long opening a connection may take; default 10 s. */
  readonly connectionTimeoutMillis?: number;
  /** How long a query may wait for its answer before it fails and its connection is dropped; default 20 s. */
  readonly queryTimeoutMillis?: number;
}

/**
 * The pool and connection settings behind a Kysely made by createKysely: LISTEN opens its own
 * session from them, and appends outside transactions use the pool's named (prepared) statements.
 */
const pools = new WeakMap<Kysely<unknown>, { pool: pg.Pool; listen: pg.ClientConfig }>();
export const listenConfigOf = (db: Kysely<unknown>): pg.ClientConfig | undefined => pools.get(db)?.listen;
export const poolOf = (db: Kysely<unknown>): pg.Pool | undefined => pools.get(db)?.pool;

// int8 (count, bigint) stays a string; the store converts stream versions to number itself.
export function createKysely(url: string, opts: CreateKyselyOptions = {}): AnyKysely {
  // jit off: the store's statements are short OLTP ones; a row estimate crossing jit_above_cost would
  // spend milliseconds compiling what runs in microseconds.
  const config: pg.PoolConfig = {
    connectionString: url,
    max: opts.max ?? 10,
    application_name: opts.applicationName ?? 'berth',
    options: '-c jit=off',
    // A connection attempt or a query that hears nothing (a black-holed or frozen server, a dead peer
    // behind a firewall) fails instead of holding a pool slot forever; the pool then opens a new one.
    connectionTimeoutMillis: opts.connectionTimeoutMillis ?? 10_000,
    query_timeout: opts.queryTimeoutMillis ?? 20_000,
    keepAlive: true,
  };
  const pool = new pg.Pool(config);
  const canceller = backendCanceller(config);
  // An idle connection that dies (server restart, dropped database) is discarded by the pool; without
  // a listener its error would crash the process. Queries on live connections still fail normally.
  pool.on('error', () => undefined);
  pool.on('connect', (client) => guardCheckedOut(client, canceller.cancel, config.query_timeout ?? 0));
  // Kysely's destroy ends the cancel pool along with the pool.
  const kyselyPool = {
    connect: async () => pool.connect(),
    end: async (): Promise<void> => {
      await canceller.end();
      await pool.end();
    },
  };
  const db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool: kyselyPool }) });
  pools.set(db, { pool, listen: { connectionString: url, application_name: `${config.application_name}-listen` } });
  return db;
}

/**
 * A Kysely on the pool of `db` (one made by createKysely) whose connections run their statements for
 * `statements`' call (see checkoutFor): for a transaction of a call. `db` itself for another Kysely.
 */
export function kyselyForCall(db: AnyKysely, statements: CallStatements | undefined): AnyKysely {
  const pool = pools.get(db)?.pool;
  if (pool === undefined || statements === undefined) return db;
  // The pool stays the shared one's: nothing to end here.
  const callPool = { connect: async () => checkoutFor(pool, statements), end: async (): Promise<void> => undefined };
  return new Kysely<unknown>({ dialect: new PostgresDialect({ pool: callPool }) });
}

/**
 * pg_cancel_backend for the pool's statements, sent from a connection of its own (one, opened when
 * first needed and closed when idle or by `end`): from the pool itself, a cancel would wait for a
 * free connection exactly when they are all busy with statements to cancel.
 */
function backendCanceller(config: pg.PoolConfig): { readonly cancel: CancelBackend; end(): Promise<void> } {
  let cancelPool: pg.Pool | undefined;
  let ended = false;
  return {
    cancel: async (pid) => {
      if (ended) return;
      cancelPool ??= new pg.Pool({
        ...config,
        max: 1,
        idleTimeoutMillis: 1000,
        allowExitOnIdle: true,
        application_name: `${config.application_name ?? 'berth'}-cancel`,
      }).on('error', () => undefined);
      try {
        await cancelPool.query('SELECT pg_cancel_backend($1)', [pid]);
      } catch {
        // The statement then runs to its end or its statement_timeout; the call has failed already.
      }
    },
    end: async () => {
      ended = true;
      await cancelPool?.end().catch(() => undefined);
    },
  };
}

/**
 * A statement on the pool, its connection taken and given back around it as pool.query does, but
 * through the promise form of `connect` and `query`, so a call's statement is tracked (see
 * trackStatement): the call of `statements` when given, else withCall's; a failed statement's
 * connection is dropped, as pool.query drops it.
 */
export async function poolQuery<R extends pg.QueryResultRow>(
  pool: pg.Pool,
  config: pg.QueryConfig,
  statements?: CallStatements,
): Promise<pg.QueryResult<R>> {
  const client = await checkoutFor(pool, statements);
  let result: pg.QueryResult<R>;
  try {
    result = await client.query<R>(config);
  } catch (e) {
    client.release(e instanceof Error ? e : true);
    throw e;
  }
  client.release();
  return result;
}

/**
 * pg-pool listens for errors only on idle connections: a connection reset while a query runs makes
 * a checked-out client emit 'error' with no listener, which ends the process. The query itself
 * already fails with the error, and the dead client is no longer queryable, so the pool drops it
 * when it is released: the listener only has to exist. A query that timed out leaves its connection
 * waiting for an answer that may never come (Kysely releases without an error, so the pool would
 * hand it out again): the client is ended, which marks it ending at once (the pool drops an ending
 * client on release, which runs after this handler) and, with the timed-out query still active,
 * closes its socket instead of waiting for a goodbye. Each statement is also tracked for its call
 * (see trackStatement) and, outside a transaction, bounded by the call's deadline (see boundBySession).
 */
function guardCheckedOut(client: pg.PoolClient, cancelBackend: CancelBackend, queryTimeoutMillis: number): void {
  client.on('error', () => undefined);
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  const bounded = boundBySession(client, query, queryTimeoutMillis);
  (client as { query: unknown }).query = (...args: unknown[]): unknown => {
    // The backend's pid, for cancelling a statement of a call that ended (see withCall).
    const out = trackStatement(client, Reflect.get(client, 'processID'), cancelBackend, args, () => bounded(args));
    if (out instanceof Promise)
      out.catch((e: unknown) => {
        if (e instanceof Error && e.message === 'Query read timeout') client.end().catch(() => undefined);
      });
    return out;
  };
}
