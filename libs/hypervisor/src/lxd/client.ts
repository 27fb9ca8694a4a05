import { Agent, request, type Dispatcher } from 'undici';
import WebSocket from 'ws';
import { HypervisorError } from '../errors.ts';
import { classifyLxdError, lxdNetworkError } from './errors.ts';
import { pinnedConnector, websocketTls, type LxdCredentials } from './tls.ts';
import type { LxdEndpoint } from './uri.ts';

/** LXD's response envelope (`/1.0` REST API). */
interface Envelope {
  readonly type: 'sync' | 'async' | 'error';
  readonly status_code?: number;
  readonly error_code?: number;
  readonly error?: string;
  readonly operation?: string;
  readonly metadata?: unknown;
}

export interface LxdOperation {
  readonly id: string;
  readonly status: string;
  readonly status_code: number;
  readonly err: string;
  readonly metadata?: Record<string, unknown> | null;
}

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** A deadline shared by every request and operation wait of one driver call. */
export class Deadline {
  readonly at: number;
  constructor(millis: number) {
    this.at = Date.now() + millis;
  }
  remaining(): number {
    return Math.max(0, this.at - Date.now());
  }
}

/**
 * A small typed client for LXD's REST API: undici for requests (unix socket or mutual TLS with the
 * server certificate pinned), `ws` for the events websocket. Every failure is a classified
 * HypervisorError; async operations are waited on within the caller's deadline.
 */
export class LxdClient {
  private readonly dispatcher: Dispatcher;
  private readonly origin: string;

  constructor(
    readonly endpoint: LxdEndpoint,
    private readonly uri: string,
    private readonly credentials?: LxdCredentials,
  ) {
    if (endpoint.transport === 'unix') {
      this.origin = 'http://lxd';
      this.dispatcher = new Agent({ connect: { socketPath: endpoint.address }, keepAliveTimeout: 10_000 });
    } else {
      this.origin = endpoint.address;
      this.dispatcher = new Agent({ connect: pinnedConnector(credentials, endpoint.fingerprint), keepAliveTimeout: 10_000 });
    }
  }

  private withProject(path: string): string {
    if (this.endpoint.project === 'default' || !/^\/1\.0\/(instances|storage-pools|operations|events)/.test(path)) return path;
    return `${path}${path.includes('?') ? '&' : '?'}project=${encodeURIComponent(this.endpoint.project)}`;
  }

  /** One request; `sync` answers give their metadata, `async` ones their operation (not waited). */
  async raw(method: Method, path: string, deadline: Deadline, body?: unknown, operation = `${method} ${path}`): Promise<Envelope> {
    const ms = deadline.remaining();
    if (ms <= 0) throw new HypervisorError('transient', operation, this.uri, 'deadline exceeded before the request was sent');
    let status: number;
    let text: string;
    try {
      const res = await request(`${this.origin}${this.withProject(path)}`, {
        method,
        dispatcher: this.dispatcher,
        signal: AbortSignal.timeout(ms),
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      status = res.statusCode;
      text = await res.body.text();
    } catch (e) {
      throw this.networkError(operation, e);
    }
    let env: Envelope;
    try {
      env = JSON.parse(text) as Envelope;
    } catch {
      throw new HypervisorError(
        status >= 500 ? 'transient' : 'permanent',
        operation,
        this.uri,
        `HTTP ${status}: not an LXD answer: ${text.slice(0, 200)}`,
      );
    }
    if (env.type === 'error' || status >= 400) {
      const code = env.error_code ?? status;
      const msg = env.error ?? `HTTP ${status}`;
      throw new HypervisorError(classifyLxdError(code, msg), operation, this.uri, `${msg} (HTTP ${code})`);
    }
    return env;
  }

  /** A failed request or websocket as a classified HypervisorError. */
  networkError(operation: string, e: unknown): HypervisorError {
    return lxdNetworkError(operation, this.uri, e);
  }

  /** GET and friends answered synchronously: the metadata. */
  async get<T>(path: string, deadline: Deadline): Promise<T> {
    return (await this.raw('GET', path, deadline)).metadata as T;
  }

  /** A request whose answer may be an operation: waited on until it ends or the deadline passes. */
  async call(
    method: Method,
    path: string,
    deadline: Deadline,
    body?: unknown,
    operation = `${method} ${path}`,
  ): Promise<LxdOperation | undefined> {
    const env = await this.raw(method, path, deadline, body, operation);
    if (env.type !== 'async') return undefined;
    const op = env.metadata as LxdOperation;
    return this.waitOperation(op.id, deadline, operation);
  }

  /**
   * Waits for an operation. LXD answers the wait with HTTP 200 whatever the outcome: an operation
   * that ends in `Failure` is turned into the error it is here.
   */
  async waitOperation(id: string, deadline: Deadline, operation: string): Promise<LxdOperation> {
    for (;;) {
      const left = deadline.remaining();
      if (left <= 0) throw new HypervisorError('transient', operation, this.uri, `operation ${id} still running at the deadline`);
      const secs = Math.max(1, Math.min(30, Math.floor(left / 1000)));
      let op: LxdOperation;
      try {
        op = await this.get<LxdOperation>(`/1.0/operations/${id}/wait?timeout=${secs}`, deadline);
      } catch (e) {
        // An operation that vanished (daemon restarted) has an unknown outcome: look again later.
        if (e instanceof HypervisorError && e.kind === 'not-found')
          throw new HypervisorError('transient', operation, this.uri, `operation ${id} vanished: ${e.message}`);
        throw e;
      }
      if (op.status === 'Success') return op;
      if (op.status === 'Failure' || op.status === 'Cancelled') {
        const msg = op.err || op.status;
        throw new HypervisorError(classifyLxdError(500, msg), operation, this.uri, msg);
      }
    }
  }

  /** Opens `/1.0/events` as a websocket (resolves once connected). */
  openEvents(types: string, onMessage: (data: string) => void): Promise<WebSocket> {
    const path = this.withProject(`/1.0/events?type=${encodeURIComponent(types)}`);
    const ep = this.endpoint;
    let ws: WebSocket;
    if (ep.transport === 'unix') {
      ws = new WebSocket(`ws+unix://${ep.address}:${path}`);
    } else {
      ws = new WebSocket(`${ep.address.replace(/^https/, 'wss')}${path}`, websocketTls(this.credentials, ep.fingerprint));
    }
    ws.on('message', (data: Buffer) => onMessage(data.toString('utf8')));
    return new Promise((resolve, reject) => {
      let settled = false;
      // Errors after the outcome is known (the socket closing) are the caller's 'close' to handle.
      ws.on('error', (e) => {
        if (settled) return;
        settled = true;
        ws.terminate();
        reject(this.networkError('GET /1.0/events', e));
      });
      ws.once('open', () => {
        settled = true;
        resolve(ws);
      });
      ws.once('unexpected-response', (req, res) => {
        const status = res.statusCode ?? 0;
        res.resume();
        settled = true;
        req.destroy();
        reject(
          new HypervisorError(
            status === 403 ? 'permanent' : classifyLxdError(status, ''),
            'GET /1.0/events',
            this.uri,
            `websocket refused: HTTP ${status}`,
          ),
        );
      });
    });
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }
}
