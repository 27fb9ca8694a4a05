import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { connect, type NatsConnection } from '@nats-io/transport-node';

/**
 * Integration tests get their infrastructure from the environment:
 *   DATABASE_URL  (default postgres://postgres@127.0.0.1:5432/postgres)
 *   NATS_URL      (default nats://127.0.0.1:4222)
 * When a part is unreachable the test is skipped, unless REQUIRE_INFRA=1 (set in CI),
 * in which case the run fails with a message naming what is missing.
 */
export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
export const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222';

export const databaseUrl = (): string => process.env['DATABASE_URL'] ?? DEFAULT_DATABASE_URL;
export const natsUrl = (): string => process.env['NATS_URL'] ?? DEFAULT_NATS_URL;
export const infraRequired = (): boolean => process.env['REQUIRE_INFRA'] === '1';

export class MissingInfrastructureError extends Error {
  override name = 'MissingInfrastructureError';
}

async function reachable(probe: () => Promise<void>): Promise<string | undefined> {
  try {
    await probe();
    return undefined;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

export async function postgresAvailable(url = databaseUrl()): Promise<string | undefined> {
  return reachable(async () => {
    const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
    await c.connect();
    await c.end();
  });
}

export async function natsAvailable(url = natsUrl()): Promise<string | undefined> {
  return reachable(async () => {
    const nc = await connect({ servers: url, timeout: 3000, maxReconnectAttempts: 0 });
    await nc.close();
  });
}

/**
 * Decide whether the integration suite can run. Returns true when every named part is
 * reachable; false (skip) when one is not and REQUIRE_INFRA is unset; throws when it is set.
 * Use as `describe.skipIf(!(await infraAvailable('postgres')))(...)`.
 */
export async function infraAvailable(...parts: ('postgres' | 'nats')[]): Promise<boolean> {
  const problems: string[] = [];
  for (const part of parts) {
    const why = part === 'postgres' ? await postgresAvailable() : await natsAvailable();
    if (why !== undefined) problems.push(`${part} (${part === 'postgres' ? databaseUrl() : natsUrl()}): ${why}`);
  }
  if (problems.length === 0) return true;
  if (infraRequired()) throw new MissingInfrastructureError(`REQUIRE_INFRA=1 but unreachable: ${problems.join('; ')}`);
  console.warn(`skipping integration tests, unreachable: ${problems.join('; ')}`);
  return false;
}

/** A short random suffix for database names, subject prefixes and stream names. */
export const uniqueSuffix = (): string => randomBytes(5).toString('hex');

export interface TestDatabase {
  readonly url: string;
  readonly name: string;
  drop(): Promise<void>;
}

/** Creates a fresh, empty database for one test file; `drop()` removes it. */
export async function createTestDatabase(label = 'test'): Promise<TestDatabase> {
  const base = databaseUrl();
  const name = `berth_${label.replace(/[^a-z0-9_]/gi, '_').toLowerCase()}_${uniqueSuffix()}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  const u = new URL(base);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    name,
    async drop() {
      const c = new pg.Client({ connectionString: base });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

/** A unique subject/stream prefix so test files never see each other's messages. */
export const testSubjectPrefix = (label = 't'): string => `${label}_${uniqueSuffix()}`;

export async function connectTestNats(): Promise<NatsConnection> {
  return connect({ servers: natsUrl(), name: 'berth-test' });
}

/**
 * The folder of the per-service NATS nkey seeds of the server at NATS_URL (npm test and
 * scripts/with-infra.ts set it when they start the private server with users).
 */
export const NATS_CREDENTIALS_ENV = 'BERTH_NATS_CREDENTIALS';

/** The seed file service `name` signs in to the shared NATS with, or undefined (a server without users). */
export function serviceNatsCreds(name: string): string | undefined {
  const dir = process.env[NATS_CREDENTIALS_ENV];
  if (dir === undefined || dir === '') return undefined;
  const file = join(dir, `${name}.nk`);
  return existsSync(file) ? file : undefined;
}
