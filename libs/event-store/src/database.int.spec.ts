/**
 * Each service connects as its own role, owning only its own database (docs/security.md): against the
 * real Postgres, another service's role cannot even connect to inventory's database, and cannot read
 * its tables when CONNECT is granted by mistake.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { databaseUrl, infraAvailable, uniqueSuffix } from '@berth/testing';
import {
  createKysely,
  dropServiceDatabase,
  ensureDatabase,
  migrateEventStore,
  PostgresEventStore,
  provisionServiceDatabase,
} from './index.ts';

async function query(url: string, sql: string): Promise<pg.QueryResult> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await c.query(sql);
  } finally {
    await c.end();
  }
}

const errorOf = (p: Promise<unknown>): Promise<{ code?: string; message: string }> =>
  p.then(
    () => ({ message: 'no error' }),
    (e: { code?: string; message: string }) => e,
  );

describe.skipIf(!(await infraAvailable('postgres')))('service databases and roles', () => {
  const admin = databaseUrl();
  const s = uniqueSuffix();
  const inventory = { database: `berth_inv_roles_${s}`, password: `inv-${s}-pw` };
  const executor = { database: `berth_exec_roles_${s}`, password: `exec-${s}-pw` };
  const legacy = { database: `berth_legacy_roles_${s}` };
  let inventoryUrl: string;
  let executorUrl: string;

  beforeAll(async () => {
    inventoryUrl = await provisionServiceDatabase(admin, inventory);
    executorUrl = await provisionServiceDatabase(admin, executor);
    // Inventory migrates and appends as itself, as the service does on start.
    await ensureDatabase(inventoryUrl);
    const db = createKysely(inventoryUrl, { max: 2 });
    try {
      await migrateEventStore(db);
      await new PostgresEventStore(db).append('host-h1', [{ type: 'HostRegistered', data: { cpus: 8 } }], { expectedVersion: 'no-stream' });
    } finally {
      await db.destroy();
    }
  });
  afterAll(async () => {
    for (const spec of [inventory, executor, legacy]) await dropServiceDatabase(admin, spec);
  });

  it('gives each service a URL with its own role and password, owning its database, not a superuser', async () => {
    const u = new URL(inventoryUrl);
    expect([u.username, decodeURIComponent(u.password), u.pathname]).toEqual([
      inventory.database,
      inventory.password,
      `/${inventory.database}`,
    ]);
    const { rows } = await query(
      admin,
      `SELECT r.rolsuper, r.rolcreatedb, r.rolcreaterole, pg_get_userbyid(d.datdba) AS owner,
              has_database_privilege('public', d.datname, 'CONNECT') AS public_connect
         FROM pg_database d, pg_roles r WHERE d.datname = '${inventory.database}' AND r.rolname = '${inventory.database}'`,
    );
    expect(rows).toEqual([{ rolsuper: false, rolcreatedb: false, rolcreaterole: false, owner: inventory.database, public_connect: false }]);
    expect((await query(inventoryUrl, 'SELECT count(*)::int AS n FROM events')).rows).toEqual([{ n: 1 }]);
  });

  it("the executor's role cannot connect to inventory's database", async () => {
    const other = new URL(inventoryUrl);
    other.username = executor.database;
    other.password = executor.password;
    const e = await errorOf(query(other.toString(), 'SELECT 1'));
    expect(e.code).toBe('42501'); // insufficient_privilege
    expect(e.message).toMatch(/permission denied for database/);
  });

  it("nor read inventory's tables when CONNECT is granted by mistake", async () => {
    await query(
      admin.replace(/\/[^/]*$/, `/${inventory.database}`),
      `GRANT CONNECT ON DATABASE ${inventory.database} TO ${executor.database}`,
    );
    const other = new URL(inventoryUrl);
    other.username = executor.database;
    other.password = executor.password;
    for (const table of ['events', 'streams', 'checkpoints']) {
      const e = await errorOf(query(other.toString(), `SELECT * FROM ${table}`));
      expect(e.code).toBe('42501');
      expect(e.message).toMatch(new RegExp(`permission denied for table ${table}`));
    }
    const write = await errorOf(query(other.toString(), `DELETE FROM events`));
    expect(write.code).toBe('42501');
    expect((await query(inventoryUrl, 'SELECT count(*)::int AS n FROM events')).rows).toEqual([{ n: 1 }]);
  });

  it('a service role cannot create a missing database; the error names the database, never the password', async () => {
    const missing = new URL(executorUrl);
    missing.pathname = `/berth_missing_${s}`;
    const e = await errorOf(ensureDatabase(missing.toString()));
    expect(e.message).toMatch(new RegExp(`database "berth_missing_${s}" does not exist`));
    expect(e.message).not.toContain(executor.password);
  });

  it('hands an existing database made by the superuser, and its tables, over to the role', async () => {
    await query(admin, `CREATE DATABASE ${legacy.database}`);
    const legacyAdmin = admin.replace(/\/[^/]*$/, `/${legacy.database}`);
    await query(legacyAdmin, 'CREATE TABLE old_rows (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v text)');
    const url = await provisionServiceDatabase(admin, legacy);
    await provisionServiceDatabase(admin, legacy); // idempotent
    await query(url, `INSERT INTO old_rows (v) VALUES ('kept')`);
    expect((await query(url, 'SELECT v FROM old_rows')).rows).toEqual([{ v: 'kept' }]);
  });
});
