import { randomUUID } from 'node:crypto';
import { Agent, request, type IncomingMessage } from 'node:http';
import type { DomainSpec } from '../domain-spec.ts';
import type {
  CopyVolumesOptions,
  DomainInfo,
  DomainState,
  DriverCapabilities,
  EventSubscription,
  HostFacts,
  HypervisorDriver,
  LifecycleEvent,
  MemoryStats,
  MigrateOptions,
  MigrationProgress,
  MigrationResult,
  StopOptions,
  UndefineOptions,
} from '../driver.ts';
import { HypervisorError, MigrationError, type HypervisorErrorKind } from '../errors.ts';
import type { CpuTune, HostTelemetry, HostTelemetrySource, IoTune, KsmTuning, TelemetryCapabilities } from '../telemetry/types.ts';
import type { SimMigrationFailureRule } from './migration.ts';
import { simHostOf, type SimHostConfig, type SimOperation } from './state.ts';
import { SIMULATOR_CAPABILITIES } from './simulator-driver.ts';
import { fromWireError, type DriverCall, type FleetCall, type TelemetryCall, type WireError } from './wire.ts';

/**
 * A client of a simulator daemon (`serveSimulator`, `berth-simulator`): the same hosts from any
 * number of processes. `driver(uri)` is a HypervisorDriver for `sim://<host>`; the fleet's fault
 * injection and the memory model's knobs are methods here. A daemon that cannot be reached is a
 * transient failure, as an unreachable libvirtd is.
 */
export class RemoteSimulator {
  // Idle connections are dropped after 20 s (the daemon keeps them 60 s).
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 64, timeout: 20_000 });
  private readonly target: { socketPath: string } | { host: string; port: number };

  /** `url`: `unix:/path/to.sock` or `http://host:port`. */
  constructor(readonly url: string) {
    if (url.startsWith('unix:')) this.target = { socketPath: url.slice('unix:'.length) };
    else {
      const u = new URL(url);
      if (u.protocol !== 'http:') throw new Error(`${url} is neither unix:/path nor http://host:port`);
      this.target = { host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port || 80) };
    }
  }

  driver(uri: string): HypervisorDriver {
    const hostId = simHostOf(uri);
    if (hostId === undefined) throw new HypervisorError('permanent', 'connect', uri, 'not a sim://<host> URI');
    return new RemoteSimulatorDriver(this, hostId, uri);
  }

  /** The memory model's collectors and controls of one host (telemetry of sim:// hosts). */
  telemetry(hostId: string): HostTelemetrySource {
    return new RemoteSimTelemetry(this, hostId);
  }

  addHost(config: SimHostConfig): Promise<string> {
    return this.fleet('addHost', config) as Promise<string>;
  }
  injectFailure(hostId: string, op: SimOperation, kind: HypervisorErrorKind, count = 1): Promise<void> {
    return this.fleet('injectFailure', hostId, op, kind, count) as Promise<void>;
  }
  clearFailures(hostId: string): Promise<void> {
    return this.fleet('clearFailures', hostId) as Promise<void>;
  }
  injectMigrationFailure(rule: SimMigrationFailureRule): Promise<void> {
    return this.fleet('injectMigrationFailure', rule) as Promise<void>;
  }
  /** The VMs whose migration an injected `stall` holds now. */
  stalled(): Promise<string[]> {
    return this.fleet('stalled') as Promise<string[]>;
  }
  releaseStall(vmId: string): Promise<number> {
    return this.fleet('releaseStall', vmId) as Promise<number>;
  }
  setDirtyRate(vmId: string, bytesPerSecond: number): Promise<void> {
    return this.fleet('setDirtyRate', vmId, bytesPerSecond) as Promise<void>;
  }
  setState(hostId: string, domain: string, state: DomainState): Promise<void> {
    return this.fleet('setState', hostId, domain, state) as Promise<void>;
  }
  volumes(hostId: string): Promise<string[]> {
    return this.fleet('volumes', hostId) as Promise<string[]>;
  }
  /** A guest's workload as a constant fraction of its allocation (the memory model's knob). */
  setWorkload(vmId: string, fraction: number): Promise<void> {
    return this.fleet('setWorkload', vmId, fraction) as Promise<void>;
  }
  setHostReserved(hostId: string, bytes: number): Promise<void> {
    return this.fleet('setHostReserved', hostId, bytes) as Promise<void>;
  }

  close(): void {
    this.agent.destroy();
  }

  private fleet(method: FleetCall, ...args: unknown[]): Promise<unknown> {
    return this.call('/v1/fleet', { method, args }, 'fleet', this.url);
  }

  /** @internal one request answered by one `{ result } | { error }`. */
  async call(path: string, payload: unknown, operation: string, uri: string): Promise<unknown> {
    const res = await this.send('POST', path, payload, operation, uri);
    const text = await readAll(res).catch((e: unknown) => {
      throw unreachable(operation, uri, e);
    });
    let v: { result?: unknown; error?: WireError };
    try {
      v = JSON.parse(text) as typeof v;
    } catch {
      throw new HypervisorError('transient', operation, uri, `the simulator answered ${res.statusCode} with no JSON`);
    }
    if (v.error) {
      if (res.statusCode === 400)
        throw new HypervisorError('permanent', operation, uri, `the simulator refused the call: ${v.error.message}`);
      throw fromWireError(v.error);
    }
    return v.result ?? undefined;
  }

  /** @internal a request whose answer is read by the caller (streams). */
  send(method: 'GET' | 'POST', path: string, payload: unknown, operation: string, uri: string, retried = false): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const data = payload === undefined ? undefined : Buffer.from(JSON.stringify(payload));
      const req = request(
        {
          ...this.target,
          agent: this.agent,
          method,
          path,
          headers: data ? { 'content-type': 'application/json', 'content-length': data.length } : {},
        },
        resolve,
      );
      req.once('error', (e: NodeJS.ErrnoException) => {
        // A kept-alive connection the daemon closed as this request went out: the request never
        // reached it, so it is sent once more on a fresh one (as Node's documentation advises).
        if (!retried && req.reusedSocket && e.code === 'ECONNRESET')
          return void this.send(method, path, payload, operation, uri, true).then(resolve, reject);
        reject(unreachable(operation, uri, e));
      });
      req.end(data);
    });
  }
}

const unreachable = (operation: string, uri: string, e: unknown): HypervisorError =>
  new HypervisorError('transient', operation, uri, `simulator unreachable: ${e instanceof Error ? e.message : String(e)}`);

async function readAll(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of res as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks).toString('utf8');
}

/** Calls `onLine` with each JSON line of a streamed answer; resolves when the stream ends. */
async function lines(res: IncomingMessage, onLine: (v: Record<string, unknown>) => void): Promise<void> {
  let buf = '';
  for await (const c of res as AsyncIterable<Buffer>) {
    buf += c.toString('utf8');
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const l = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (l.trim() !== '') onLine(JSON.parse(l) as Record<string, unknown>);
    }
  }
}

/** One host of a simulator daemon, as a HypervisorDriver (the in-process SimulatorDriver's behaviour, over the wire). */
export class RemoteSimulatorDriver implements HypervisorDriver {
  readonly capabilities: DriverCapabilities = SIMULATOR_CAPABILITIES;
  constructor(
    private readonly sim: RemoteSimulator,
    readonly hostId: string,
    readonly uri: string,
  ) {}

  private call(method: DriverCall, ...args: unknown[]): Promise<unknown> {
    return this.sim.call('/v1/call', { host: this.hostId, method, args }, method, this.uri);
  }

  async defineAndStart(spec: DomainSpec): Promise<void> {
    await this.call('defineAndStart', spec);
  }
  async createVolumes(spec: DomainSpec): Promise<void> {
    await this.call('createVolumes', spec);
  }
  async define(spec: DomainSpec): Promise<void> {
    await this.call('define', spec);
  }
  async stop(vmId: string, opts: StopOptions): Promise<'graceful' | 'forced' | 'already-stopped'> {
    return (await this.call('stop', vmId, opts)) as 'graceful' | 'forced' | 'already-stopped';
  }
  async start(vmId: string): Promise<void> {
    await this.call('start', vmId);
  }
  async reboot(vmId: string): Promise<void> {
    await this.call('reboot', vmId);
  }
  async destroy(vmId: string): Promise<void> {
    await this.call('destroy', vmId);
  }
  async undefine(vmId: string, opts?: UndefineOptions): Promise<void> {
    await this.call('undefine', vmId, opts ?? {});
  }
  async copyVolumes(spec: DomainSpec, opts: CopyVolumesOptions): Promise<void> {
    await this.call('copyVolumes', spec, opts);
  }
  async state(vmId: string): Promise<DomainState | undefined> {
    return ((await this.call('state', vmId)) ?? undefined) as DomainState | undefined;
  }
  async listDomains(): Promise<DomainInfo[]> {
    return (await this.call('listDomains')) as DomainInfo[];
  }
  async hostFacts(): Promise<HostFacts> {
    return (await this.call('hostFacts')) as HostFacts;
  }
  async memoryStats(vmId: string): Promise<MemoryStats> {
    return (await this.call('memoryStats', vmId)) as MemoryStats;
  }
  async setBalloonTarget(vmId: string, bytes: number): Promise<void> {
    await this.call('setBalloonTarget', vmId, bytes);
  }
  async abortMigration(vmId: string): Promise<void> {
    await this.call('abortMigration', vmId);
  }
  async resumePostCopy(vmId: string, opts: MigrateOptions): Promise<void> {
    const { signal: _s, onProgress: _p, ...wire } = opts;
    await this.call('resumePostCopy', vmId, wire);
  }
  async migrationJob(vmId: string): Promise<MigrationProgress | undefined> {
    return ((await this.call('migrationJob', vmId)) ?? undefined) as MigrationProgress | undefined;
  }

  /**
   * The daemon runs the job; progress comes back as lines of the answer. The signal is sent as an
   * abort of this call (by its id), so an abort that comes before the job exists is not lost. If the
   * connection breaks mid-call the job goes on in the daemon, and this rejects `failed-transient`:
   * the caller asks both hosts where the domain is, as after any failed call.
   */
  async migrate(vmId: string, opts: MigrateOptions): Promise<MigrationResult> {
    const { signal, onProgress, ...wire } = opts;
    const callId = randomUUID();
    if (signal?.aborted) throw new MigrationError('aborted', this.uri, 'migration aborted before it started');
    const onAbort = (): void => void this.sim.call('/v1/abort', { callId }, 'domjobabort', this.uri).catch(() => undefined);
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      let res: IncomingMessage;
      try {
        res = await this.sim.send('POST', '/v1/migrate', { host: this.hostId, vmId, opts: wire, callId }, 'migrate', this.uri);
      } catch (e) {
        throw new MigrationError('failed-transient', this.uri, e instanceof Error ? e.message : String(e));
      }
      if (res.statusCode !== 200) {
        const text = await readAll(res).catch(() => '');
        throw new MigrationError('failed-permanent', this.uri, `the simulator refused the call (${res.statusCode}): ${text}`);
      }
      let outcome: { result: MigrationResult } | { error: WireError } | undefined;
      try {
        await lines(res, (v) => {
          if (v['progress'] !== undefined) onProgress?.(v['progress'] as MigrationProgress);
          else if (v['result'] !== undefined) outcome = { result: v['result'] as MigrationResult };
          else if (v['error'] !== undefined) outcome = { error: v['error'] as WireError };
        });
      } catch (e) {
        if (outcome === undefined)
          throw new MigrationError(
            'failed-transient',
            this.uri,
            `connection to the simulator lost: ${e instanceof Error ? e.message : String(e)}`,
          );
      }
      if (outcome === undefined) throw new MigrationError('failed-transient', this.uri, 'connection to the simulator lost mid-call');
      if ('error' in outcome) throw fromWireError(outcome.error);
      return outcome.result;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** The host's lifecycle events; the stream is opened again (after 1 s) whenever it breaks, until closed. */
  async events(onEvent: (e: LifecycleEvent) => void): Promise<EventSubscription> {
    let closed = false;
    let current: IncomingMessage | undefined;
    let retry: NodeJS.Timeout | undefined;
    const path = `/v1/events?host=${encodeURIComponent(this.hostId)}`;
    const open = async (): Promise<void> => {
      const res = await this.sim.send('GET', path, undefined, 'events', this.uri);
      if (closed) return void res.destroy();
      current = res;
      void lines(res, (v) => {
        if (v['event'] !== undefined) onEvent(v['event'] as LifecycleEvent);
      })
        .catch(() => undefined)
        .finally(() => {
          if (!closed) retry = setTimeout(() => void open().catch(again), 1000);
        });
    };
    const again = (): void => {
      if (!closed) retry = setTimeout(() => void open().catch(again), 1000);
    };
    await open();
    return {
      close: async () => {
        closed = true;
        if (retry) clearTimeout(retry);
        current?.destroy();
      },
    };
  }

  async close(): Promise<void> {}
}

class RemoteSimTelemetry implements HostTelemetrySource {
  readonly capabilities: TelemetryCapabilities = {
    hostMemory: true,
    ksmStats: true,
    hostFiles: true,
    ksmRun: true,
    ksmTune: true,
    cpuTune: true,
    ioTune: true,
  };
  constructor(
    private readonly sim: RemoteSimulator,
    private readonly hostId: string,
  ) {}
  private call(method: TelemetryCall, ...args: unknown[]): Promise<unknown> {
    return this.sim.call('/v1/telemetry', { host: this.hostId, method, args }, method, `sim://${this.hostId}`);
  }
  async sample(): Promise<HostTelemetry> {
    return (await this.call('sample')) as HostTelemetry;
  }
  async setKsm(t: KsmTuning): Promise<void> {
    await this.call('setKsm', t);
  }
  async setCpuTune(domain: string, t: CpuTune): Promise<void> {
    await this.call('setCpuTune', domain, t);
  }
  async setIoTune(domain: string, t: IoTune): Promise<void> {
    await this.call('setIoTune', domain, t);
  }
  async close(): Promise<void> {}
}
