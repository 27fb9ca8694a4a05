import { connect, type NatsConnection } from '@nats-io/transport-node';

export interface ConnectOptions {
  readonly url: string;
  /** Client name shown by the server (e.g. the service name). */
  readonly name: string;
  /** Reconnect forever by default: a service outlives NATS restarts. */
  readonly maxReconnectAttempts?: number;
  readonly timeoutMillis?: number;
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
  });
}
