/**
 * Writes the NATS users of a Berth installation into a credentials folder (mode 700):
 *   <user>.nk     the user's nkey seed (mode 600) — the service reads it through NATS_CREDS
 *   auth.conf     nats-server's `authorization` block: one nkey user per service, `reader`, one
 *                 `reader-<project>` per project reader, `admin`
 *   server.conf   a base config (a copy of infra/nats/private.conf) and `include auth.conf`, for a private server
 * Seeds already there are kept (a restart keeps the identities, and a project reader once added stays);
 * the permissions are written anew from infra/nats/permissions.json each time.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createUser, fromSeed } from '@nats-io/nkeys';
import {
  checkProjectName,
  inboxPrefixOf,
  loadPermissionTable,
  projectReaderPermissions,
  projectReaderUser,
  readerPermissions,
  servicePermissions,
  type NatsAuthMode,
  type NatsPermissions,
} from './auth.ts';

export const ADMIN_USER = 'admin';
/** `prefixed` mode: connections without credentials (the tests' own) are this user, allowed everything. */
export const TEST_USER = 'berth-test';

export interface NatsCredentials {
  readonly dir: string;
  readonly mode: NatsAuthMode;
  readonly authConf: string;
  readonly serverConf: string;
  /** Users with a seed: every service, `reader`, each `reader-<project>`, `admin`. */
  readonly users: readonly string[];
  /** The seed file of `user` (what NATS_CREDS names). */
  credsFile(user: string): string;
}

/** The public key and seed of the nkey stored in `file`. */
export function readNkey(file: string): { publicKey: string; seed: Uint8Array } {
  const seed = new TextEncoder().encode(readFileSync(file, 'utf8').trim());
  return { publicKey: fromSeed(seed).getPublicKey(), seed };
}

function ensureSeed(file: string): string {
  if (!existsSync(file)) {
    const seed = new TextDecoder().decode(createUser().getSeed());
    writeFileSync(file, `${seed}\n`, { mode: 0o600, flag: 'wx' });
  }
  return readNkey(file).publicKey;
}

const entry = (nkey: string, name: string, p?: NatsPermissions): string =>
  `    # ${name}\n    { nkey: ${JSON.stringify(nkey)}${p === undefined ? '' : `, permissions: ${JSON.stringify(p)}`} }`;

export interface NatsCredentialsOptions {
  readonly mode: NatsAuthMode;
  readonly baseConf?: string;
  /** Projects that get a reader of their own (`reader-<project>`); those with a seed in `dir` already are kept. */
  readonly projectReaders?: readonly string[];
}

export function writeNatsCredentials(dir: string, opts: NatsCredentialsOptions): NatsCredentials {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const table = loadPermissionTable();
  const services = Object.keys(table.services);
  (opts.projectReaders ?? []).forEach((p) => checkProjectName(p, 'projectReaders'));
  const prefix = table.projectReader.userPrefix;
  const existing = readdirSync(dir)
    .filter((f) => f.startsWith(prefix) && f.endsWith('.nk'))
    .map((f) => f.slice(prefix.length, -'.nk'.length));
  const projects = [...new Set([...existing, ...(opts.projectReaders ?? [])])].sort();
  const projectUsers = projects.map((p) => projectReaderUser(p, table));
  const users = [...services, table.reader.user, ...projectUsers, ADMIN_USER];
  const keys = new Map(users.map((u) => [u, ensureSeed(join(dir, `${u}.nk`))]));
  const key = (u: string): string => keys.get(u)!;
  const lines = [
    ...services.map((s) => entry(key(s), s, servicePermissions(s, inboxPrefixOf(key(s)), { mode: opts.mode, table }))),
    entry(key(table.reader.user), table.reader.user, readerPermissions(inboxPrefixOf(key(table.reader.user)), { mode: opts.mode, table })),
    ...projects.map((p) => {
      const u = projectReaderUser(p, table);
      return entry(
        key(u),
        `${u}: project ${p}'s events only`,
        projectReaderPermissions(p, inboxPrefixOf(key(u)), { mode: opts.mode, table }),
      );
    }),
    entry(key(ADMIN_USER), `${ADMIN_USER}: operators and provisioning, everything`),
  ];
  if (opts.mode === 'prefixed')
    lines.push(
      `    # ${TEST_USER}: the tests' own connections\n    { user: ${TEST_USER}, password: ${JSON.stringify(randomBytes(18).toString('hex'))} }`,
    );
  const authConf = join(dir, 'auth.conf');
  writeFileSync(
    authConf,
    [
      `# Generated from infra/nats/permissions.json (mode ${opts.mode}) by writeNatsCredentials (@berth/messaging); edit that file, not this one.`,
      'authorization {',
      '  users: [',
      lines.join(',\n'),
      '  ]',
      '}',
      ...(opts.mode === 'prefixed' ? [`no_auth_user: ${TEST_USER}`] : []),
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  const serverConf = join(dir, 'server.conf');
  // nats-server resolves `include` relative to the including file only: the base config is copied in.
  const base = opts.baseConf ? `# from ${opts.baseConf}\n${readFileSync(opts.baseConf, 'utf8')}\n` : '';
  writeFileSync(serverConf, `${base}include "auth.conf"\n`, { mode: 0o600 });
  return { dir, mode: opts.mode, authConf, serverConf, users, credsFile: (u) => join(dir, `${u}.nk`) };
}
