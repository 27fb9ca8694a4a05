import { readFileSync } from 'node:fs';
import { connect, nkeyAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { fromSeed } from '@nats-io/nkeys';
import { inboxPrefixOf } from './auth.ts';

export interface ConnectOptions {
  readonly url: string;
  /** Client name shown by the server (e.g. the service name). */
  readonly name: string;
  /**
   * The file holding this client's nkey seed (NATS_CREDS; writeNatsCredentials makes one per user).
   * Without it the connection has no credentials (a server without authorization, or the tests' own).
   */
  readonly credsFile?: string;
  /** Reconnect forever by default: a service outlives NATS restarts. */
  readonly maxReconnectAttempts?: number;
  readonly timeoutMillis?: number;
}

/** What connect() needs to sign in as the nkey in `file`: the authenticator and the user's own inbox prefix. */
export function nkeyCredentials(file: string): { authenticator: ReturnType<typeof nkeyAuthenticator>; inboxPrefix: string } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch (e) {
    throw new Error(`NATS_CREDS: cannot read the nkey seed file ${file} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const seed = new TextEncoder().encode(text);
  let publicKey: string;
  try {
    publicKey = fromSeed(seed).getPublicKey();
  } catch {
    // Never the content: it is a secret.
    throw new Error(`NATS_CREDS: ${file} does not hold a user nkey seed`);
  }
  // Replies and JetStream answers come to an inbox only this user may subscribe to.
  return { authenticator: nkeyAuthenticator(seed), inboxPrefix: inboxPrefixOf(publicKey) };
}

export function connectNats(options: ConnectOptions): Promise<NatsConnection> {
  return connect({
    servers: options.url.split(',').map((s) => s.trim()),
    name: options.name,
    maxReconnectAttempts: options.maxReconnectAttempts ?? -1,
    reconnectTimeWait: 500,
    timeout: options.timeoutMillis ?? 5000,
    // A server that stops answering (black hole, frozen) is noticed after 3 missed pings (~40 s, the
    // client's default is 2 min x 2) and the client reconnects; a live but busy server answers pings.
    pingInterval: 10_000,
    maxPingOut: 3,
    ...(options.credsFile !== undefined ? nkeyCredentials(options.credsFile) : {}),
  });
}
