import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import type { Logger } from '@berth/observability';
import type { ConsoleInfo, HostUsageAnswer } from '../../api.ts';
import type { EventBatcher } from '../../application/batcher.ts';
import type { GrpcGateway } from '../grpc/gateway.ts';
import type { HostUsageView } from '../nats/usage.ts';
import type { StaticFile } from './static.ts';

export interface HttpDeps {
  readonly gateway: GrpcGateway;
  readonly batcher: EventBatcher;
  readonly usage: HostUsageView;
  readonly assets: ReadonlyMap<string, StaticFile>;
  readonly info: ConsoleInfo;
  /** Operator token; empty on loopback (no authentication there, as for the gRPC services). */
  readonly authToken: string;
  readonly logger: Logger;
}

const COOKIE = 'berth_console';
const MAX_BODY = 1024 * 1024;

export function createConsoleServer(deps: HttpDeps): Server {
  const server = createServer((req, res) => {
    handle(deps, req, res).catch((e: unknown) => {
      deps.logger.error({ err: e instanceof Error ? e.message : String(e), url: req.url }, 'console request failed');
      if (!res.headersSent) json(res, 500, { code: 'INTERNAL', message: 'console error' });
      else res.end();
    });
  });
  // SSE connections stay open; do not let Node's request timeout end them.
  server.requestTimeout = 0;
  return server;
}

async function handle(deps: HttpDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://console');
  const path = url.pathname;
  res.setHeader('X-Content-Type-Options', 'nosniff');
  if (path === '/healthz') return json(res, 200, { status: 'SERVING' });
  if (deps.authToken && path === '/login') return login(deps, req, res);
  if (deps.authToken && !authenticated(deps.authToken, req)) {
    if (path.startsWith('/api/')) return json(res, 401, { code: 'UNAUTHENTICATED', message: 'operator token required (POST /login)' });
    return loginPage(res);
  }
  if (path === '/api/info') return json(res, 200, deps.info);
  if (path === '/api/events') return events(deps, req, res);
  if (path === '/api/usage') return json(res, 200, { hosts: deps.usage.current() } satisfies HostUsageAnswer);
  const rpc = /^\/api\/rpc\/([a-z]+)\/([A-Za-z]+)$/.exec(path);
  if (rpc) {
    if (req.method !== 'POST') return json(res, 405, { code: 'METHOD_NOT_ALLOWED', message: 'POST a JSON request' });
    if (!(req.headers['content-type'] ?? '').startsWith('application/json')) {
      return json(res, 415, { code: 'INVALID_ARGUMENT', message: 'content-type must be application/json' });
    }
    let body: unknown;
    try {
      body = JSON.parse(await readBody(req)) as unknown;
    } catch (e) {
      return json(res, 400, { code: 'INVALID_ARGUMENT', message: `request body: ${e instanceof Error ? e.message : String(e)}` });
    }
    const r = await deps.gateway.call(rpc[1]!, rpc[2]!, body);
    return r.ok ? json(res, 200, r.body) : json(res, r.status, r.error);
  }
  const timeline = /^\/api\/vms\/([^/]+)\/timeline$/.exec(path);
  if (timeline) {
    const vmId = decodeURIComponent(timeline[1]!);
    const got = await deps.gateway.call('inventory', 'getVm', { vmId });
    if (!got.ok) return json(res, got.status, got.error);
    const version = (got.body as { vm?: { version?: number } }).vm?.version ?? 0;
    return json(res, 200, await deps.gateway.timeline(vmId, version));
  }
  if (path.startsWith('/api/')) return json(res, 404, { code: 'NOT_FOUND', message: `no route ${path}` });
  return serveStatic(deps.assets, req, res, path);
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const data = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' });
  res.end(data);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) reject(new Error(`larger than ${MAX_BODY} bytes`));
      else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8') || '{}'));
    req.on('error', reject);
  });
}

function events(deps: HttpDeps, req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store', Connection: 'keep-alive' });
  res.write(`retry: 1000\n: connected\n\n`);
  const leave = deps.batcher.subscribe({ send: (batch) => res.write(`data: ${JSON.stringify(batch)}\n\n`) });
  const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
  req.on('close', () => {
    clearInterval(keepAlive);
    leave();
  });
}

function serveStatic(assets: ReadonlyMap<string, StaticFile>, req: IncomingMessage, res: ServerResponse, path: string): void {
  // Client-side routes (/hosts/h1, /vms/...) get the app; its router draws the page.
  const file = assets.get(path) ?? (path.includes('.') ? undefined : assets.get('/index.html'));
  if (!file) {
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    res.end('not found');
    return;
  }
  const accept = String(req.headers['accept-encoding'] ?? '');
  const [body, encoding] = /\bbr\b/.test(accept) ? [file.br, 'br'] : /\bgzip\b/.test(accept) ? [file.gzip, 'gzip'] : [file.raw, undefined];
  res.writeHead(200, {
    'Content-Type': file.type,
    'Cache-Control': file.immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
    Vary: 'Accept-Encoding',
    ...(encoding ? { 'Content-Encoding': encoding } : {}),
    'Content-Security-Policy': "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:",
  });
  res.end(body);
}

function authenticated(token: string, req: IncomingMessage): boolean {
  const header = req.headers.authorization ?? '';
  const bearer = header.startsWith('Bearer ') ? header.slice(7) : undefined;
  const cookie = (req.headers.cookie ?? '')
    .split(';')
    .map((c) => c.trim().split('='))
    .find(([k]) => k === COOKIE)?.[1];
  const given = bearer ?? (cookie ? decodeURIComponent(cookie) : undefined);
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

async function login(deps: HttpDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== 'POST') return loginPage(res);
  const token = new URLSearchParams(await readBody(req)).get('token') ?? '';
  const fake = { headers: { authorization: `Bearer ${token}` } } as IncomingMessage;
  if (!authenticated(deps.authToken, fake)) return loginPage(res, 'That token is not the operator token.');
  res.writeHead(303, {
    Location: '/',
    'Set-Cookie': `${COOKIE}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/`,
  });
  res.end();
}

function loginPage(res: ServerResponse, problem = ''): void {
  res.writeHead(problem ? 401 : 200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
  res.end(
    `<!doctype html><html lang="en"><title>Berth console: sign in</title><main><h1>Berth console</h1>` +
      (problem ? `<p role="alert">${problem}</p>` : '') +
      `<form method="post" action="/login"><label>Operator token <input name="token" type="password" autocomplete="current-password"></label> <button>Sign in</button></form></main></html>`,
  );
}
