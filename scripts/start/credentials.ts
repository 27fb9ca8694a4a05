/**
 * Credentials of a local Berth run, generated once and kept under `.berth/credentials/` (mode 700; each
 * file 600), never printed: Postgres passwords of the service roles, NATS nkey seeds (scripts/start/nats-auth.ts).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { provisionServiceDatabase } from '@berth/event-store';

export const credentialsDir = (root: string): string => join(root, '.berth', 'credentials');

/** The secret stored in `dir/name`, made with `make()` (and stored, mode 600) the first time. */
export function storedSecret(dir: string, name: string, make: () => string): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, name);
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const value = make();
  writeFileSync(file, `${value}\n`, { mode: 0o600, flag: 'wx' });
  return value;
}

/**
 * The service's own database and role (role = database name, e.g. `berth_inventory`), provisioned with
 * the administrator's URL; returns the URL the service connects with (its role and stored password).
 */
export function serviceDatabaseUrl(root: string, adminUrl: string, database: string): Promise<string> {
  const password = storedSecret(join(credentialsDir(root), 'postgres'), database, () => randomBytes(24).toString('base64url'));
  return provisionServiceDatabase(adminUrl, { database, role: database, password });
}

/** The variables docker-compose.yml takes from `.env` (generated, mode 600, only the missing ones added). */
export const COMPOSE_SECRETS = [
  'POSTGRES_PASSWORD',
  'BERTH_INVENTORY_DB_PASSWORD',
  'BERTH_EXECUTOR_DB_PASSWORD',
  'BERTH_MIGRATION_DB_PASSWORD',
  'BERTH_TELEMETRY_DB_PASSWORD',
] as const;

/** Writes the missing compose secrets into `root/.env`; returns every value (for the admin URL). */
export function ensureComposeEnv(root: string): Record<string, string> {
  const file = join(root, '.env');
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const values: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Z0-9_]+)\s*=\s*(.*)\s*$/.exec(line);
    if (m) values[m[1]!] = m[2]!;
  }
  const added = COMPOSE_SECRETS.filter((k) => values[k] === undefined);
  for (const k of added) values[k] = randomBytes(24).toString('hex');
  if (added.length > 0) {
    const lines = added.map((k) => `${k}=${values[k]}`).join('\n');
    writeFileSync(file, `${text}${text === '' || text.endsWith('\n') ? '' : '\n'}${lines}\n`, { mode: 0o600 });
  }
  return values;
}
