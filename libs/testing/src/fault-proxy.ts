/**
 * A TCP fault proxy for tests (netem is not available on these machines): put it between a service
 * and Postgres, NATS or another service's gRPC port, and make the network misbehave.
 *
 *   const proxy = await FaultProxy.start({ host: '127.0.0.1', port: 5432 });
 *   startService('inventory', { DATABASE_URL: `postgres://postgres@${proxy.address}/db` });
 *   proxy.latency(200);        // every chunk, both ways, 200 ms later (order kept)
 *   proxy.reset();             // RST on every open connection: a reset in the middle of a request
 *   proxy.blackHole();         // connections stay open, every byte from now on is dropped, for good
 *   proxy.partition();         // nothing passes and nothing is lost: bytes wait, new connections wait
 *   proxy.heal();              // back to normal: a partition delivers what waited (TCP retransmits)
 *   proxy.observe((dir, b) => ...); // sees every chunk that passes ('up': client -> target), e.g. to read a protocol
 *
 * The faults are what TCP shows an application. A partition stalls (the kernel retransmits, so what
 * was sent arrives once the link is back, and a connection attempt waits for its SYN to get through).
 * A black hole loses the flows it caught for good (a stateful firewall or NAT that forgot them): those
 * connections never deliver another byte even after heal(), and only a client that notices (keepalive,
 * a deadline) and reconnects recovers; new connections after heal() work.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';

export interface ProxyTarget {
  readonly host: string;
  readonly port: number;
}

type Mode = 'pass' | 'partition' | 'black-hole';

interface Flow {
  readonly client: Socket;
  upstream: Socket | undefined;
  /** Caught by a black hole: drops every byte for the rest of its life. */
  dead: boolean;
  /** Bytes held by a partition, in order, per direction. */
  readonly held: { toUpstream: Buffer[]; toClient: Buffer[] };
}

export interface FaultProxyStats {
  readonly accepted: number;
  readonly open: number;
  readonly reset: number;
  readonly droppedBytes: number;
}

export class FaultProxy {
  private mode: Mode = 'pass';
  private delayMillis = 0;
  private readonly flows = new Set<Flow>();
  private readonly waiting: Flow[] = [];
  private counters = { accepted: 0, reset: 0, droppedBytes: 0 };
  private readonly observers = new Set<(dir: 'up' | 'down', chunk: Buffer) => void>();

  private constructor(
    private readonly server: Server,
    readonly target: ProxyTarget,
    readonly port: number,
  ) {}

  /** Listens on 127.0.0.1 (a free port unless `listenPort` is given) and forwards to `target`. */
  static async start(target: ProxyTarget, listenPort = 0): Promise<FaultProxy> {
    const server = createServer({ noDelay: true });
    const port = await new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(listenPort, '127.0.0.1', () => resolve((server.address() as { port: number }).port));
    });
    const proxy = new FaultProxy(server, target, port);
    server.on('connection', (client) => proxy.accept(client));
    return proxy;
  }

  /** `127.0.0.1:<port>` */
  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  get stats(): FaultProxyStats {
    return { ...this.counters, open: this.flows.size };
  }

  /** Delays every chunk in both directions by `millis` (0 turns it off); order is kept. */
  latency(millis: number): void {
    this.delayMillis = millis;
  }

  /**
   * Calls `fn` with every chunk as it is delivered ('up': client to target, 'down': back), in order per
   * direction; chunks split the byte stream anywhere. Returns a function that stops observing.
   */
  observe(fn: (dir: 'up' | 'down', chunk: Buffer) => void): () => void {
    this.observers.add(fn);
    return () => void this.observers.delete(fn);
  }

  /** Resets (RST) every open connection, as a peer or middlebox would in the middle of a request. */
  reset(): void {
    for (const f of [...this.flows]) this.kill(f, true);
  }

  /** Drops every byte of every open and new connection; the open ones stay lost after heal(). */
  blackHole(): void {
    this.mode = 'black-hole';
    for (const f of this.flows) f.dead = true;
  }

  /** Holds every byte and every new connection until heal(), nothing lost. */
  partition(): void {
    this.mode = 'partition';
  }

  /** Ends a partition or a black hole: held bytes are delivered, waiting connections go through. */
  heal(): void {
    this.mode = 'pass';
    // Waiting connections are dialled first: their held bytes queue in the new socket until it connects.
    for (const f of this.waiting.splice(0)) if (!f.client.destroyed) this.dial(f);
    for (const f of this.flows) {
      const { toUpstream, toClient } = f.held;
      for (const b of toUpstream.splice(0)) this.forward(f, 'up', b);
      for (const b of toClient.splice(0)) this.forward(f, 'down', b);
    }
  }

  async close(): Promise<void> {
    for (const f of [...this.flows]) this.kill(f, false);
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    this.counters.accepted++;
    client.setNoDelay(true);
    const flow: Flow = { client, upstream: undefined, dead: this.mode === 'black-hole', held: { toUpstream: [], toClient: [] } };
    this.flows.add(flow);
    client.on('data', (b: Buffer) => this.carry(flow, 'up', b));
    client.on('error', () => this.kill(flow, false));
    client.on('close', () => this.kill(flow, false));
    if (this.mode === 'partition') this.waiting.push(flow);
    else if (!flow.dead) this.dial(flow);
  }

  private dial(flow: Flow): void {
    const up = createConnection({ host: this.target.host, port: this.target.port, noDelay: true });
    flow.upstream = up;
    up.on('data', (b: Buffer) => this.carry(flow, 'down', b));
    up.on('error', () => this.kill(flow, true));
    up.on('close', () => this.kill(flow, false));
  }

  private carry(flow: Flow, dir: 'up' | 'down', b: Buffer): void {
    if (flow.dead) {
      this.counters.droppedBytes += b.length;
      return;
    }
    if (this.mode === 'partition') {
      (dir === 'up' ? flow.held.toUpstream : flow.held.toClient).push(b);
      return;
    }
    this.forward(flow, dir, b);
  }

  private forward(flow: Flow, dir: 'up' | 'down', b: Buffer): void {
    const send = (): void => {
      if (flow.dead) return;
      const to = dir === 'up' ? flow.upstream : flow.client;
      if (to === undefined || to.destroyed) return;
      to.write(b);
      for (const fn of this.observers) fn(dir, b);
    };
    if (this.delayMillis > 0) setTimeout(send, this.delayMillis);
    else send();
  }

  private kill(flow: Flow, rst: boolean): void {
    if (!this.flows.delete(flow)) return;
    if (rst) this.counters.reset++;
    for (const s of [flow.client, flow.upstream]) {
      if (s === undefined || s.destroyed) continue;
      if (rst) s.resetAndDestroy();
      else s.destroy();
    }
  }
}
