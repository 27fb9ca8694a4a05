import * as grpc from '@grpc/grpc-js';
import { grpcHealthV1 } from '@berth/contracts';
import type { Logger } from './logger.ts';

const ServingStatus = grpcHealthV1.HealthCheckResponse_ServingStatus;
type ServingStatus = grpcHealthV1.HealthCheckResponse_ServingStatus;
type Watcher = {
  readonly service: string;
  readonly call: grpc.ServerWritableStream<unknown, grpcHealthV1.HealthCheckResponse>;
  last?: ServingStatus;
};

export interface HealthOptions {
  /** Full names of the services this server answers for; "" (the whole server) is always known. */
  readonly services: readonly string[];
  /** Real readiness: database and NATS reachable. A throw or a timeout counts as not ready. */
  readonly readiness: () => Promise<boolean>;
  readonly readinessTimeoutMillis: number;
  /** How often Watch streams re-evaluate readiness while anyone watches. */
  readonly pollMillis: number;
  readonly logger: Logger;
}

/**
 * grpc.health.v1.Health over one readiness callback. Every known service shares the server's
 * readiness; while draining everything answers NOT_SERVING so balancers stop routing first.
 */
export class HealthService {
  private draining = false;
  private readonly known: ReadonlySet<string>;
  private readonly watchers = new Set<Watcher>();
  private poller: NodeJS.Timeout | undefined;

  constructor(private readonly options: HealthOptions) {
    this.known = new Set(['', ...options.services]);
  }

  /** Marks the server as draining and tells every watcher at once. */
  async drain(): Promise<void> {
    this.draining = true;
    await this.publish();
  }

  /** Ends Watch streams so that a graceful shutdown does not wait on them. */
  close(): void {
    if (this.poller) clearInterval(this.poller);
    this.poller = undefined;
    for (const w of this.watchers) w.call.end();
    this.watchers.clear();
  }

  async status(service: string): Promise<ServingStatus> {
    if (!this.known.has(service)) return ServingStatus.SERVICE_UNKNOWN;
    if (this.draining) return ServingStatus.NOT_SERVING;
    return (await this.ready()) ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;
  }

  readonly implementation: grpcHealthV1.HealthServer = {
    check: (call, callback) => {
      const service = call.request.service;
      if (!this.known.has(service)) {
        callback({ code: grpc.status.NOT_FOUND, details: `unknown service "${service}"` });
        return;
      }
      this.status(service).then(
        (status) => callback(null, { status }),
        (err: unknown) => callback(err as Error),
      );
    },
    list: (_call, callback) => {
      const services = [...this.known];
      Promise.all(services.map((s) => this.status(s))).then(
        (statuses) =>
          callback(null, { statuses: Object.fromEntries(services.map((s, i) => [s, { status: statuses[i] ?? ServingStatus.UNKNOWN }])) }),
        (err: unknown) => callback(err as Error),
      );
    },
    watch: (call) => {
      const watcher: Watcher = { service: call.request.service, call };
      this.watchers.add(watcher);
      call.on('cancelled', () => this.forget(watcher));
      call.on('close', () => this.forget(watcher));
      this.poller ??= setInterval(() => void this.publish(), this.options.pollMillis);
      void this.publish([watcher]);
    },
  };

  private forget(watcher: Watcher): void {
    this.watchers.delete(watcher);
    if (this.watchers.size === 0 && this.poller) {
      clearInterval(this.poller);
      this.poller = undefined;
    }
  }

  private async publish(to: Iterable<Watcher> = this.watchers): Promise<void> {
    const targets = [...to];
    if (targets.length === 0) return;
    const ready = this.draining ? false : await this.ready();
    for (const w of targets) {
      const status = !this.known.has(w.service) ? ServingStatus.SERVICE_UNKNOWN : ready ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;
      if (w.last === status || !this.watchers.has(w)) continue;
      w.last = status;
      w.call.write({ status });
    }
  }

  private async ready(): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), this.options.readinessTimeoutMillis);
    });
    try {
      return await Promise.race([this.options.readiness(), timeout]);
    } catch (err) {
      this.options.logger.warn({ err }, 'readiness check failed');
      return false;
    } finally {
      clearTimeout(timer);
    }
  }
}
