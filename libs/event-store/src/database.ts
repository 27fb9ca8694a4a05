/**
 * One database per service, owned by the service's own role (docs/security.md, "NATS and Postgres").
 *
 * - `provisionServiceDatabase(adminUrl, ...)`: run with an administrator's URL (npm start, an installer):
 *   creates the role when absent (LOGIN, no superuser, no createdb, no createrole), creates the database
 *   owned by it (or hands an existing one, and every object in it, over to it), revokes CONNECT and TEMP
 *   from PUBLIC, and returns the URL the service connects with (its role and password).
 * - `ensureDatabase(url)`: run by each service on start with its own URL: nothing when the database
 *   answers; when it does not exist, creates it with the same credentials (throw-away test databases,
 *   where the tests connect as the superuser). A service role cannot create databases; then the error
 *   says to provision it.
 */
import pg from 'pg';
import { maskUrl } from '@berth/config';

export interface ServiceDatabaseSpec {
  /** Database name, e.g. `berth_inventory`. */
  readonly database: string;
  /** Role that owns it and that the service logs in as (default: the database name). */
  readonly role?: string;
  /** The role's password (omit: the role keeps the one it has, or none). */
  readonly password?: string;
}

const ident = (name: string): string => pg.escapeIdentifier(name);

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

const withDatabase = (url: string, database: string): string => {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
};

/** Runs `sql`, ignoring the error codes given (a concurrent process did the same meanwhile). */
async function tolerant(c: pg.Client, sql: string, codes: readonly string[]): Promise<void> {
  await c.query(sql).catch((e: { code?: string }) => {
    if (e.code === undefined || !codes.includes(e.code)) throw e;
  });
}

// Objects in a database owned by someone else than `role` (e.g. created while the services still ran
// as the superuser): tables (with their identity sequences), views, free sequences, functions, schemas.
const FOREIGN_OBJECTS = `
  SELECT 'ALTER TABLE ' || format('%I.%I', n.nspname, c.relname) AS stmt
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND c.relowner <> $1::regrole
     AND n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'
  UNION ALL
  SELECT 'ALTER SEQUENCE ' || format('%I.%I', n.nspname, c.relname)
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relkind = 'S' AND c.relowner <> $1::regrole
     AND n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'
     AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i'))
  UNION ALL
  SELECT 'ALTER ROUTINE ' || p.oid::regprocedure::text
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
   WHERE p.proowner <> $1::regrole AND n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'
  UNION ALL
  SELECT 'ALTER SCHEMA ' || format('%I', n.nspname)
    FROM pg_namespace n
   WHERE n.nspowner <> $1::regrole AND n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'`;

/**
 * Creates (or brings into line) the service's role and database; returns the service's own URL: the
 * admin URL with the role, its password and the database. Idempotent; safe from several processes.
 */
export async function provisionServiceDatabase(adminUrl: string, spec: ServiceDatabaseSpec): Promise<string> {
  const role = spec.role ?? spec.database;
  const password = spec.password === undefined ? '' : ` PASSWORD ${pg.escapeLiteral(spec.password)}`;
  const options = `LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS${password}`;
  await withClient(withDatabase(adminUrl, 'postgres'), async (c) => {
    const roleExists = (await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role])).rowCount === 1;
    if (roleExists) await c.query(`ALTER ROLE ${ident(role)} ${options}`);
    else await tolerant(c, `CREATE ROLE ${ident(role)} ${options}`, ['42710']);
    const dbExists = (await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [spec.database])).rowCount === 1;
    if (dbExists) await c.query(`ALTER DATABASE ${ident(spec.database)} OWNER TO ${ident(role)}`);
    else await tolerant(c, `CREATE DATABASE ${ident(spec.database)} OWNER ${ident(role)}`, ['42P04']);
    await c.query(`REVOKE ALL ON DATABASE ${ident(spec.database)} FROM PUBLIC`);
  });
  // An existing database may hold objects of the superuser (before roles): hand them over.
  await withClient(withDatabase(adminUrl, spec.database), async (c) => {
    const { rows } = await c.query<{ stmt: string }>(FOREIGN_OBJECTS, [role]);
    for (const { stmt } of rows) await c.query(`${stmt} OWNER TO ${ident(role)}`);
  });
  const u = new URL(withDatabase(adminUrl, spec.database));
  u.username = encodeURIComponent(role);
  u.password = spec.password === undefined ? '' : encodeURIComponent(spec.password);
  return u.toString();
}

/** Drops a database and its role (tests that provisioned throw-away ones). */
export async function dropServiceDatabase(adminUrl: string, spec: ServiceDatabaseSpec): Promise<void> {
  await withClient(withDatabase(adminUrl, 'postgres'), async (c) => {
    await c.query(`DROP DATABASE IF EXISTS ${ident(spec.database)} WITH (FORCE)`);
    await c.query(`DROP ROLE IF EXISTS ${ident(spec.role ?? spec.database)}`);
  });
}

/**
 * Creates the database of `url` when it does not exist yet, with the credentials in `url` (the tests'
 * throw-away databases). A provisioned service finds its database and changes nothing.
 */
export async function ensureDatabase(url: string): Promise<void> {
  const name = decodeURIComponent(new URL(url).pathname.slice(1));
  const missing = await withClient(url, async () => false).catch((e: { code?: string }) => {
    if (e.code === '3D000') return true; // invalid_catalog_name: the database does not exist
    throw e;
  });
  if (!missing) return;
  await withClient(withDatabase(url, 'postgres'), async (c) => {
    await tolerant(c, `CREATE DATABASE ${ident(name)}`, ['42P04']);
  }).catch((e: { code?: string; message?: string }) => {
    if (e.code !== '42501') throw e;
    throw new Error(
      `database "${name}" does not exist and ${maskUrl(url)} may not create it: provision it with provisionServiceDatabase (npm start does)`,
    );
  });
}
