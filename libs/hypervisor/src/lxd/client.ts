import { createHash, X509Certificate } from 'node:crypto';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { Agent, buildConnector, request, type Dispatcher } from 'undici';
import WebSocket from 'ws';
import { HypervisorError, type HypervisorErrorKind } from '../errors.ts';
import type { LxdEndpoint } from './uri.ts';

/** The TLS client identity Berth presents to LXD hosts (PEM). */
export interface LxdCredentials {
  readonly certPem: string;
  readonly keyPem: string;
}

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

/** Failures the daemon reports while busy or restarting: retrying later can succeed. */
const TRANSIENT_TEXT =
  /instance is busy|is busy running|database is locked|database is not ready|daemon is shutting down|connection refused|connection reset|i\/o timeout|context deadline exceeded|broken pipe|try again|temporarily/i;

/** Classifies an LXD error (HTTP status and message) for the executor's retry rules. */
export function classifyLxdError(status: number, message: string): HypervisorErrorKind {
  if (status === 404 || /^not found$|instance not found|storage volume not found|no such object/i.test(message)) return 'not-found';
  if (status === 502 || status === 503 || status === 504 || status === 429) return 'transient';
  if (TRANSIENT_TEXT.test(message)) return 'transient';
  return 'permanent';
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOENT',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ENOTFOUND',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'ABORT_ERR',
  'UND_ERR_ABORTED',
]);

function errorCode(e: unknown): string | undefined {
  for (let x: unknown = e; x instanceof Error; x = x.cause) {
    const code = (x as Error & { code?: unknown }).code;
    if (typeof code === 'string') return code;
    if (x.name === 'AbortError' || x.name === 'TimeoutError') return 'ABORT_ERR';
  }
  return undefined;
}

/** LXD's certificate fingerprint: the SHA-256 of the DER, lowercase hex. */
export const certificateFingerprint = (pemOrDer: string | Buffer): string => {
  const der = typeof pemOrDer === 'string' ? new X509Certificate(pemOrDer).raw : pemOrDer;
  return createHash('sha256').update(der).digest('hex');
};

export class PinningError extends Error {
  override readonly name = 'PinningError';
}

function checkPin(socket: TLSSocket, fingerprint: string): Error | undefined {
  const cert = socket.getPeerCertificate();
  if (!cert?.raw) return new PinningError('the server presented no certificate');
  const got = certificateFingerprint(cert.raw);
  return got === fingerprint ? undefined : new PinningError(`server certificate fingerprint ${got} is not the pinned ${fingerprint}`);
}

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
      const tls = {
        ...(credentials ? { cert: credentials.certPem, key: credentials.keyPem } : {}),
        // A pinned server is checked by fingerprint below; otherwise the system CAs decide.
        rejectUnauthorized: endpoint.fingerprint === undefined,
        // A resumed TLS session shows no peer certificate to check the pin against.
        maxCachedSessions: 0,
      };
      const base = buildConnector(tls);
      const fingerprint = endpoint.fingerprint;
      const connector: buildConnector.connector =
        fingerprint === undefined
          ? base
          : (opts, cb) => {
              base(opts, (...args) => {
                const [err, socket] = args;
                if (err !== null) return cb(err, null);
                const bad = checkPin(socket as TLSSocket, fingerprint);
                if (bad) {
                  socket.destroy();
                  return cb(bad, null);
                }
                return cb(null, socket);
              });
            };
      this.dispatcher = new Agent({ connect: connector, keepAliveTimeout: 10_000 });
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

  networkError(operation: string, e: unknown): HypervisorError {
    if (e instanceof HypervisorError) return e;
    if (e instanceof PinningError || (e instanceof Error && e.cause instanceof PinningError)) {
      return new HypervisorError(
        'permanent',
        operation,
        this.uri,
        e instanceof PinningError ? e.message : String((e.cause as Error).message),
      );
    }
    const code = errorCode(e);
    const msg = e instanceof Error ? e.message : String(e);
    if (code !== undefined && NETWORK_CODES.has(code)) return new HypervisorError('transient', operation, this.uri, `${code}: ${msg}`);
    if (/certificate|self.signed|unable to verify|handshake/i.test(msg)) return new HypervisorError('permanent', operation, this.uri, msg);
    return new HypervisorError('transient', operation, this.uri, msg);
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
      const fingerprint = ep.fingerprint;
      ws = new WebSocket(`${ep.address.replace(/^https/, 'wss')}${path}`, {
        ...(this.credentials ? { cert: this.credentials.certPem, key: this.credentials.keyPem } : {}),
        rejectUnauthorized: fingerprint === undefined,
        ...(fingerprint === undefined
          ? {}
          : {
              createConnection: (opts: object) => {
                const s = tlsConnect(opts);
                s.once('secureConnect', () => {
                  const bad = checkPin(s, fingerprint);
                  if (bad) s.destroy(bad);
                });
                return s;
              },
            }),
      });
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
