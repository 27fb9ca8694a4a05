import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { z } from 'zod';
import { telemetry } from '@berth/contracts';
import type { HostTelemetrySource, HypervisorDriver } from '@berth/hypervisor';
import { subjectName } from '@berth/messaging';
import type { Logger } from '@berth/observability';

type Control = telemetry.Control;

/**
 * The executor's half of telemetry (it owns the hypervisor connections, so it samples and acts;
 * telemetry decides): every sample interval each known host's statistics go out as one core NATS
 * message on `berth.samples.<hostId>`; controls arrive as requests on `berth.controls.<hostId>`
 * (queue group `executor`, so replicas share them) and are answered with one result per control.
 */
export interface TelemetryAgentOptions {
  readonly nc: NatsConnection;
  readonly prefix?: string;
  /** host id -> hypervisor URI. */
  readonly hosts: () => Promise<ReadonlyMap<string, string>>;
  readonly driverFor: (uri: string) => HypervisorDriver;
  readonly telemetryFor: (uri: string) => HostTelemetrySource;
  /** Powers a VM off or on through the executor's own lifecycle (recorded, reported to inventory). */
  readonly power: (vmId: string, action: 'off' | 'on', reason: string, commandId: string) => Promise<void>;
  readonly intervalMillis: number;
  /** Hosts sampled at once (default 32). */
  readonly concurrency?: number;
  readonly logger: Logger;
}

const num = z.number().finite();
const controlSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('balloon'), vmId: z.string().min(1), targetKib: num.nonnegative() }),
  z.object({
    kind: z.literal('ksm'),
    run: num.optional(),
    pagesToScan: num.optional(),
    sleepMillisecs: num.optional(),
    mergeAcrossNodes: num.optional(),
  }),
  z.object({ kind: z.literal('cpuTune'), vmId: z.string().min(1), quota: num, period: num.positive() }),
  z.object({
    kind: z.literal('ioTune'),
    vmId: z.string().min(1),
    device: z.string().min(1),
    totalBytesSec: num.optional(),
    readBytesSec: num.optional(),
    writeBytesSec: num.optional(),
    totalIopsSec: num.optional(),
    readIopsSec: num.optional(),
    writeIopsSec: num.optional(),
  }),
  z.object({
    kind: z.literal('power'),
    vmId: z.string().min(1),
    action: z.enum(['off', 'on']),
    reason: z.string(),
    commandId: z.string().min(1),
  }),
]);
const requestSchema = z.object({ v: z.literal(1), hostId: z.string().min(1), decisionId: z.string(), controls: z.array(controlSchema) });

const enc = new TextEncoder();

export class TelemetryAgent {
  private timer: NodeJS.Timeout | undefined;
  private sub: Subscription | undefined;
  private running: Promise<void> | undefined;
  private serving: Promise<void> | undefined;

  constructor(private readonly o: TelemetryAgentOptions) {}

  /** Serves control requests and, with `sampling`, publishes samples every interval. */
  start(sampling = true): void {
    this.sub = this.o.nc.subscribe(subjectName(`${telemetry.CONTROLS_SUBJECT}.*`, this.o.prefix), { queue: 'executor' });
    const sub = this.sub;
    const inHand = new Set<Promise<void>>();
    this.serving = (async () => {
      // Requests are handled side by side: one slow host must not hold the others' controls back
      // (telemetry never has two requests of one host in flight).
      for await (const m of sub) {
        const p = this.handle(m.data)
          .catch((e: unknown): telemetry.ControlReply => ({
            v: 1,
            results: [{ ok: false, error: e instanceof Error ? e.message : String(e), unsupported: false }],
          }))
          .then((reply) => void (m.reply && m.respond(enc.encode(JSON.stringify(reply)))));
        inHand.add(p);
        void p.finally(() => inHand.delete(p));
      }
      await Promise.all(inHand);
    })();
    if (!sampling) return;
    const tick = (): void => {
      const round = this.sampleAll().then(
        () => undefined,
        (e: unknown) => this.o.logger.warn({ err: e }, 'telemetry sampling failed'),
      );
      this.running = round;
      void round.then(() => {
        if (this.sub) this.timer = setTimeout(tick, this.o.intervalMillis);
      });
    };
    tick();
  }

  /** One sample of every known host, published; hosts that cannot be reached are skipped this time. */
  async sampleAll(): Promise<number> {
    const hosts = [...(await this.o.hosts())];
    let published = 0;
    const width = this.o.concurrency ?? 32;
    for (let i = 0; i < hosts.length; i += width) {
      // Between batches the event loop runs: a sample of the simulator (or a batch of virsh answers)
      // resolves in microtasks only, so without this a whole pass over a large fleet would hold back
      // every control request, and the samples themselves, until it ended.
      if (i > 0) await new Promise((r) => setImmediate(r));
      await Promise.all(
        hosts.slice(i, i + width).map(async ([hostId, uri]) => {
          try {
            const src = this.o.telemetryFor(uri);
            const s = await src.sample();
            const msg: telemetry.HostSampleMessage = {
              v: 1,
              hostId,
              at: new Date().toISOString(),
              capabilities: { ...src.capabilities, balloon: this.o.driverFor(uri).capabilities.balloon },
              host: s.host,
              guests: s.guests.flatMap((g) =>
                g.vmId !== undefined ? [{ vmId: g.vmId, stats: g.stats, ...(g.ioTune !== undefined ? { ioTune: g.ioTune } : {}) }] : [],
              ),
            };
            this.o.nc.publish(subjectName(`${telemetry.SAMPLES_SUBJECT}.${hostId}`, this.o.prefix), enc.encode(JSON.stringify(msg)));
            published++;
          } catch (e) {
            this.o.logger.debug({ err: e, hostId }, 'host not sampled');
          }
        }),
      );
    }
    return published;
  }

  private async handle(data: Uint8Array): Promise<telemetry.ControlReply> {
    const parsed = requestSchema.safeParse(JSON.parse(new TextDecoder().decode(data)));
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return {
        v: 1,
        results: [
          { ok: false, error: `invalid control request: ${issue?.path.join('.') ?? ''} ${issue?.message ?? ''}`, unsupported: false },
        ],
      };
    }
    const req = parsed.data;
    const uri = (await this.o.hosts()).get(req.hostId);
    if (uri === undefined)
      return { v: 1, results: req.controls.map(() => ({ ok: false, error: `unknown host ${req.hostId}`, unsupported: false })) };
    const results: telemetry.ControlResult[] = [];
    for (const c of req.controls) results.push(await this.apply(uri, c));
    return { v: 1, results };
  }

  private async apply(uri: string, c: Control): Promise<telemetry.ControlResult> {
    const src = this.o.telemetryFor(uri);
    const unsupported = (what: string): telemetry.ControlResult => ({
      ok: false,
      error: `${what} is not supported by ${uri}`,
      unsupported: true,
    });
    try {
      switch (c.kind) {
        case 'balloon':
          if (!this.o.driverFor(uri).capabilities.balloon) return unsupported('ballooning');
          await this.o.driverFor(uri).setBalloonTarget(c.vmId, c.targetKib * 1024);
          break;
        case 'ksm': {
          if (c.run !== undefined && !src.capabilities.ksmRun) return unsupported('starting or stopping KSM');
          if (!src.capabilities.ksmTune) return unsupported('KSM tuning');
          await src.setKsm({
            ...(c.run !== undefined ? { run: c.run } : {}),
            ...(c.pagesToScan !== undefined ? { pagesToScan: c.pagesToScan } : {}),
            ...(c.sleepMillisecs !== undefined ? { sleepMillisecs: c.sleepMillisecs } : {}),
            ...(c.mergeAcrossNodes !== undefined ? { mergeAcrossNodes: c.mergeAcrossNodes } : {}),
          });
          break;
        }
        case 'cpuTune':
          if (!src.capabilities.cpuTune) return unsupported('CPU tuning');
          await src.setCpuTune(`berth-${c.vmId}`, { quota: c.quota, period: c.period });
          break;
        case 'ioTune': {
          if (!src.capabilities.ioTune) return unsupported('I/O tuning');
          const { kind: _k, vmId, ...tune } = c;
          await src.setIoTune(`berth-${vmId}`, tune);
          break;
        }
        case 'power':
          await this.o.power(c.vmId, c.action, c.reason, c.commandId);
          break;
        default: {
          const never: never = c;
          throw new Error(`unknown control ${JSON.stringify(never)}`);
        }
      }
      return { ok: true };
    } catch (e) {
      return { ok: false, error: e instanceof Error ? e.message : String(e), unsupported: false };
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    const sub = this.sub;
    this.sub = undefined;
    sub?.unsubscribe();
    await this.running;
    await this.serving;
  }
}
