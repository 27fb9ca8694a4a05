import { sql, type QueryExecutorProvider } from 'kysely';

export interface ServiceDependencies {
  /** The service's NATS connection: not ready once it is closed. */
  readonly nats: { isClosed(): boolean };
  /** The service's Postgres (its Kysely): not ready unless it answers `select 1`. */
  readonly database?: QueryExecutorProvider;
  /** Anything else the service waits for (the scheduler: its first view of the hosts). */
  readonly ready?: () => boolean;
}

/**
 * The readiness every service reports through grpc.health.v1 (`createGrpcServer({ readiness })`): its
 * NATS connection open, its database answering, and its own condition if it has one. A database that
 * does not answer throws, which the health service counts as not ready (as it does a timeout).
 */
export function serviceReadiness(d: ServiceDependencies): () => Promise<boolean> {
  return async () => {
    if (d.nats.isClosed() || (d.ready !== undefined && !d.ready())) return false;
    if (d.database) await sql`select 1`.execute(d.database);
    return true;
  };
}
