import { chmodSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HypervisorDriver, MigrateOptions } from '../driver.ts';
import { SimMemoryModel } from '../telemetry/simulator.ts';
import type { HostTelemetrySource } from '../telemetry/types.ts';
import type { SimulatorFleet } from './simulator.ts';
import { DRIVER_CALLS, FLEET_CALLS, TELEMETRY_CALLS, toWireError } from './wire.ts';

/**
 * A simulator fleet served to other processes (the protocol is in wire.ts): the simulated hosts
 * then live in a process of their own, as real hypervisors do, and outlive any executor that drives
 * them. A migration job belongs to the daemon: a client that goes away mid-call (killed) leaves it
 * running, and the next client finds it with `migrationJob` and `state` (as libvirt's p2p migrations
 * behave). Only the migrate call's signal (`/v1/abort`) or `abortMigration` aborts it.
 */
export interface SimulatorServer {
  /** `unix:/path/to.sock` or `http://127.0.0.1:PORT`: what clients and EXECUTOR_SIMULATOR_URL take. */
  readonly url: string;
  readonly fleet: SimulatorFleet;
  close(): Promise<void>;
}

export interface ServeSimulatorOptions {
  /** `unix:/path/to.sock` (made 0600: whoever can open it drives the hosts), or `http://127.0.0.1:PORT` (0: a free port). */
  readonly listen: string;
  /** The memory model behind the hosts' telemetry (default: one over the fleet). */
  readonly memoryModel?: SimMemoryModel;
}

const MAX_BODY = 16 * 1024 * 1024;

async function body(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > MAX_BODY) throw new BadRequest('request body too large');
    chunks.push(c);
  }
  const v: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new BadRequest('the body must be a JSON object');
  return v as Record<string, unknown>;
}

class BadRequest extends Error {}

const str = (b: Record<string, unknown>, field: string): string => {
  const v = b[field];
  if (typeof v !== 'string' || v === '') throw new BadRequest(`${field}: must be a non-empty string`);
  return v;
};
const args = (b: Record<string, unknown>): unknown[] => {
  const v = b['args'] ?? [];
  if (!Array.isArray(v)) throw new BadRequest('args: must be an array');
  return v;
};
const oneOf = <T extends string>(v: string, allowed: readonly T[], field: string): T => {
  if (!(allowed as readonly string[]).includes(v)) throw new BadRequest(`${field}: ${v} is not one of ${allowed.join(', ')}`);
  return v as T;
};

export async function serveSimulator(fleet: SimulatorFleet, opts: ServeSimulatorOptions): Promise<SimulatorServer> {
  const model = opts.memoryModel ?? new SimMemoryModel(fleet);
  const drivers = new Map<string, HypervisorDriver>();
  const driver = (host: string): HypervisorDriver => {
    let d = drivers.get(host);
    if (!d) drivers.set(host, (d = fleet.driver(`sim://${host}`)));
    return d;
  };
  const telemetry = new Map<string, HostTelemetrySource>();
  const telemetryOf = (host: string): HostTelemetrySource => {
    let t = telemetry.get(host);
    if (!t) telemetry.set(host, (t = model.source(host)));
    return t;
  };
  // The signals of migrate calls in progress (and aborts that came first), by the client's call id.
  const calls = new Map<string, AbortController>();

  const json = (res: ServerResponse, status: number, v: unknown): void => {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(v));
  };
  const answer = async (res: ServerResponse, f: () => unknown): Promise<void> => {
    try {
      json(res, 200, { result: (await f()) ?? null });
    } catch (e) {
      if (e instanceof BadRequest) json(res, 400, { error: { name: 'BadRequest', message: e.message } });
      else json(res, 200, { error: toWireError(e) });
    }
  };

  const migrate = async (b: Record<string, unknown>, res: ServerResponse): Promise<void> => {
    const host = str(b, 'host');
    const vmId = str(b, 'vmId');
    const callId = str(b, 'callId');
    const o = (b['opts'] ?? {}) as Omit<MigrateOptions, 'signal' | 'onProgress'>;
    if (typeof o !== 'object' || typeof o.destinationUri !== 'string') throw new BadRequest('opts.destinationUri: must be a string');
    let controller = calls.get(callId);
    if (!controller) calls.set(callId, (controller = new AbortController()));
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    // A write to a client that went away is dropped; the job goes on.
    const line = (v: unknown): void => void (res.writable && res.write(`${JSON.stringify(v)}\n`));
    try {
      const result = await driver(host).migrate(vmId, { ...o, signal: controller.signal, onProgress: (p) => line({ progress: p }) });
      line({ result });
    } catch (e) {
      line({ error: toWireError(e) });
    } finally {
      calls.delete(callId);
      res.end();
    }
  };

  const events = (host: string, req: IncomingMessage, res: ServerResponse): void => {
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    // A first line at once, so the client knows it is subscribed.
    res.write(`${JSON.stringify({ subscribed: host })}\n`);
    const off = fleet.subscribe(host, (e) => void (res.writable && res.write(`${JSON.stringify({ event: e })}\n`)));
    // The response closes when the client goes (a request's own 'close' comes with its body read).
    res.once('close', off);
    void req;
  };

  const fleetCall = (method: string, a: unknown[]): unknown => {
    const m = oneOf(method, FLEET_CALLS, 'method');
    if (m === 'setWorkload') {
      if (typeof a[1] !== 'number') throw new BadRequest('args[1]: a workload is a fraction (number) over the wire');
      return model.setWorkload(String(a[0]), a[1]);
    }
    if (m === 'setHostReserved') return model.setHostReserved(String(a[0]), Number(a[1]));
    return (fleet[m] as (...x: unknown[]) => unknown).apply(fleet, a);
  };

  const server = createServer((req, res) => {
    void (async () => {
      try {
        const url = new URL(req.url ?? '/', 'http://simulator');
        if (req.method === 'GET' && url.pathname === '/v1/events') return events(oneHost(url.searchParams.get('host')), req, res);
        if (req.method === 'GET' && url.pathname === '/healthz') return json(res, 200, { result: 'SERVING' });
        if (req.method !== 'POST') return json(res, 404, { error: { name: 'NotFound', message: `${req.method} ${url.pathname}` } });
        const b = await body(req);
        switch (url.pathname) {
          case '/v1/call': {
            const d = driver(str(b, 'host'));
            const m = oneOf(str(b, 'method'), DRIVER_CALLS, 'method');
            return await answer(res, () => (d[m] as (...x: unknown[]) => unknown).apply(d, args(b)));
          }
          case '/v1/migrate':
            return await migrate(b, res);
          case '/v1/abort': {
            const id = str(b, 'callId');
            let c = calls.get(id);
            if (!c) calls.set(id, (c = new AbortController()));
            c.abort();
            return json(res, 200, { result: null });
          }
          case '/v1/telemetry': {
            const t = telemetryOf(str(b, 'host'));
            const m = oneOf(str(b, 'method'), TELEMETRY_CALLS, 'method');
            return await answer(res, () => (t[m] as (...x: unknown[]) => unknown).apply(t, args(b)));
          }
          case '/v1/fleet':
            return await answer(res, () => fleetCall(str(b, 'method'), args(b)));
          default:
            return json(res, 404, { error: { name: 'NotFound', message: `POST ${url.pathname}` } });
        }
      } catch (e) {
        if (res.headersSent) return void res.end();
        json(res, 400, { error: { name: 'BadRequest', message: e instanceof Error ? e.message : String(e) } });
      }
    })();
  });
  // Calls wait as long as the hypervisor call lasts (a migration: minutes).
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;
  // Longer than the clients keep an idle connection (20 s), so a client never reuses one the daemon just closed.
  server.keepAliveTimeout = 60_000;

  let url: string;
  if (opts.listen.startsWith('unix:')) {
    const path = opts.listen.slice('unix:'.length);
    rmSync(path, { force: true });
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(path, resolve));
    chmodSync(path, 0o600);
    url = `unix:${path}`;
  } else {
    const u = new URL(opts.listen);
    if (u.protocol !== 'http:') throw new Error(`listen: ${opts.listen} is neither unix:/path nor http://host:port`);
    await new Promise<void>((resolve, reject) =>
      server.once('error', reject).listen(Number(u.port || 0), u.hostname.replace(/^\[|\]$/g, ''), resolve),
    );
    url = `http://${u.hostname}:${(server.address() as AddressInfo).port}`;
  }
  return {
    url,
    fleet,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      if (url.startsWith('unix:')) rmSync(url.slice('unix:'.length), { force: true });
    },
  };
}

function oneHost(h: string | null): string {
  if (h === null || h === '') throw new BadRequest('host: must be given (?host=H)');
  return h;
}
