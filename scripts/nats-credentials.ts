/**
 * `npm run nats:credentials`: the NATS users of docker compose (strict permissions from
 * infra/nats/permissions.json): nkey seeds and auth.conf under .berth/credentials/nats (kept between
 * runs; permissions rewritten). npm start writes the same folder itself.
 */
import { join } from 'node:path';
import { writeNatsCredentials } from '@berth/messaging';
import { credentialsDir } from './start/credentials.ts';

const root = new URL('..', import.meta.url).pathname;
const creds = writeNatsCredentials(join(credentialsDir(root), 'nats'), { mode: 'strict' });
console.log(`NATS users (${creds.users.join(', ')}) in ${creds.dir}; seeds are secrets (mode 600), never commit them`);
