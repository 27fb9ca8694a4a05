/**
 * The one administrative step that provisions JetStream (docs/security.md, "Streams are provisioned"):
 * every stream and KV bucket of infra/nats/streams.json, created or updated as a user that may (NATS's
 * `admin`, or a server without users). Services only look them up on start (ensureStreams finds them
 * unchanged and writes nothing); their users may not create, update, delete or purge a stream.
 * npm start runs it after starting its NATS server, the e2e harness before it starts a service on the
 * shared test server, docker compose as the one-shot `nats-provision` container (scripts/nats-provision.ts).
 */
import { connectNats } from './connect.ts';
import { ensureStreams, type EnsureStreamsResult } from './streams.ts';

export interface ProvisionOptions {
  readonly url: string;
  /** The administrator's nkey seed file; none: connect without credentials. */
  readonly credsFile?: string;
  /** Test isolation prefix (names.ts). */
  readonly prefix?: string;
}

export async function provisionNats(opts: ProvisionOptions): Promise<EnsureStreamsResult> {
  const nc = await connectNats({
    url: opts.url,
    name: 'berth-provision',
    maxReconnectAttempts: 0,
    ...(opts.credsFile === undefined ? {} : { credsFile: opts.credsFile }),
  });
  try {
    return await ensureStreams(nc, opts.prefix ? { prefix: opts.prefix } : {});
  } finally {
    await nc.close();
  }
}
