/**
 * `npm run nats:provision`: the administrator's step that creates or updates every JetStream stream and
 * KV bucket of infra/nats/streams.json (docs/security.md): services may only look them up. Signs in as
 * NATS's admin user (NATS_CREDS, default .berth/credentials/nats/admin.nk when it exists) at NATS_URL
 * (default nats://127.0.0.1:4222). npm start and the test scripts run the same step themselves; docker
 * compose runs this file as its one-shot `nats-provision` container.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { provisionNats } from '@berth/messaging';

const root = new URL('..', import.meta.url).pathname;
const url = process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222';
const fallback = join(root, '.berth', 'credentials', 'nats', 'admin.nk');
const credsFile = process.env['NATS_CREDS'] ?? (existsSync(fallback) ? fallback : undefined);
try {
  const r = await provisionNats({ url, ...(credsFile === undefined ? {} : { credsFile }) });
  console.log(`NATS provisioned at ${url}: ${JSON.stringify(r)}`);
} catch (e) {
  console.error(`nats:provision: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
}
