/**
 * `npm run nats:credentials`: the NATS users of docker compose (strict permissions from
 * infra/nats/permissions.json): nkey seeds and auth.conf under .berth/credentials/nats (kept between
 * runs; permissions rewritten). npm start writes the same folder itself.
 *
 *   npm run nats:credentials -- --project-reader acme   adds the user reader-acme, who sees project acme's events
 *                                                        only (docs/security.md); a running server needs a reload
 *                                                        (`nats-server --signal reload=<pid>` or SIGHUP).
 */
import { join } from 'node:path';
import { writeNatsCredentials } from '@berth/messaging';
import { credentialsDir } from './start/credentials.ts';

const root = new URL('..', import.meta.url).pathname;
const projectReaders: string[] = [];
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  const a = args[i]!;
  if (a === '--project-reader' && args[i + 1] !== undefined) projectReaders.push(args[++i]!);
  else if (a.startsWith('--project-reader=')) projectReaders.push(a.slice('--project-reader='.length));
  else {
    console.error(`nats:credentials: unknown argument ${a} (usage: npm run nats:credentials [-- --project-reader PROJECT ...])`);
    process.exit(2);
  }
}
const creds = writeNatsCredentials(join(credentialsDir(root), 'nats'), { mode: 'strict', projectReaders });
console.log(`NATS users (${creds.users.join(', ')}) in ${creds.dir}; seeds are secrets (mode 600), never commit them`);
