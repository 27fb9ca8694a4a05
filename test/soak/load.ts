/**
 * Fixed-rate churn through the public gRPC APIs, as clients would: ComposeVm, DeleteVm, StopVm,
 * StartVm on inventory and MigrateVm on the migration service. It keeps going while parts crash;
 * every answer is recorded, and what was acknowledged (answered OK) is what the audit holds the
 * plane to. Each operation carries its own command id; nothing is retried (an unanswered compose
 * may or may not exist; the audit checks those too, without counting them as acknowledged).
 */
import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { modelV1 } from '@berth/contracts';
import { callUnary, isServiceError } from '@berth/grpc-kit';
import type { Plane } from './plane.ts';

const GiB = 1024 ** 3;
export type OpKind = 'compose' | 'delete' | 'stop' | 'start' | 'migrate';
export const OP_KINDS: readonly OpKind[] = ['compose', 'delete', 'stop', 'start', 'migrate'];

export interface OpRecord {
  readonly kind: OpKind;
  readonly vmId: string;
  /** 'OK' or the gRPC code name. */
  readonly code: string;
  /** The status message of an answer that is not OK. */
  readonly details?: string;
  readonly at: number;
  readonly millis: number;
}

/** Share of each operation in the churn (composes dominate so the fleet fills, deletes make room). */
const MIX: readonly [OpKind, number][] = [
  ['compose', 0.35],
  ['delete', 0.2],
  ['stop', 0.12],
  ['start', 0.13],
  ['migrate', 0.2],
];

const UNCLEAN = new Set(['INTERNAL', 'UNKNOWN', 'CLIENT_ERROR']);

export class Load {
  readonly ops: OpRecord[] = [];
  /** Every compose sent, and whether it was acknowledged. */
  readonly composes = new Map<string, boolean>();
  readonly deletesAcked = new Set<string>();
  readonly migrationsAcked = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private seq = 0;

  constructor(
    private readonly plane: Plane,
    private readonly opts: { readonly label: string; readonly vcpus?: number; readonly memoryGiB?: number; readonly maxInFlight?: number },
  ) {}

  /** Issues `perSecond` operations a second until stop(). */
  start(perSecond: number): void {
    this.timer = setInterval(() => this.tick(), Math.max(1, Math.round(1000 / perSecond)));
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await Promise.all([...this.inFlight]);
  }

  /**
   * Answers that are not a clean status (issue 16: never INTERNAL): INTERNAL or UNKNOWN (a handler's
   * error the one mapping did not know), or an error that is no gRPC status at all.
   */
  unclean(): OpRecord[] {
    return this.ops.filter((o) => UNCLEAN.has(o.code));
  }

  acknowledged(kind: OpKind): number {
    return this.ops.filter((o) => o.kind === kind && o.code === 'OK').length;
  }

  private tick(): void {
    if (this.inFlight.size >= (this.opts.maxInFlight ?? 32)) return;
    const p = this.one().finally(() => this.inFlight.delete(p));
    this.inFlight.add(p);
  }

  private pickKind(): OpKind {
    let r = Math.random();
    for (const [k, w] of MIX) if ((r -= w) < 0) return k;
    return 'compose';
  }

  /** A VM acknowledged and not (acknowledged) deleted. */
  private pickVm(): string | undefined {
    const live = [...this.composes].filter(([id, acked]) => acked && !this.deletesAcked.has(id)).map(([id]) => id);
    return live[Math.floor(Math.random() * live.length)];
  }

  private async one(): Promise<void> {
    const chosen = this.pickKind();
    const target = chosen === 'compose' ? undefined : this.pickVm();
    const kind = target === undefined ? 'compose' : chosen;
    const vmId = target ?? `${this.opts.label}-${++this.seq}`;
    const meta = { commandId: randomUUID() };
    const deadline = Date.now() + 8000;
    const inv = this.plane.inventory;
    const t0 = Date.now();
    let code = 'OK';
    let details: string | undefined;
    try {
      switch (kind) {
        case 'compose':
          this.composes.set(vmId, false);
          await callUnary(
            inv,
            'composeVm',
            {
              meta,
              vmId,
              spec: modelV1.VmSpec.fromPartial({
                name: vmId,
                vcpus: this.opts.vcpus ?? 1,
                memoryBytes: (this.opts.memoryGiB ?? 1) * GiB,
              }),
            },
            { deadline },
          );
          this.composes.set(vmId, true);
          break;
        case 'delete':
          await callUnary(inv, 'deleteVm', { meta, vmId }, { deadline });
          this.deletesAcked.add(vmId);
          break;
        case 'stop':
          await callUnary(inv, 'stopVm', { meta, vmId, force: true }, { deadline });
          break;
        case 'start':
          await callUnary(inv, 'startVm', { meta, vmId }, { deadline });
          break;
        case 'migrate': {
          const r = await callUnary(
            this.plane.migration,
            'migrateVm',
            { meta, vmId, destinationHostId: 'auto', reason: 'churn' },
            { deadline },
          );
          if (r.migration) this.migrationsAcked.set(r.migration.migrationId, vmId);
          break;
        }
      }
    } catch (e) {
      code = isServiceError(e) ? grpc.status[e.code] : 'CLIENT_ERROR';
      details = isServiceError(e) ? e.details : String(e);
    }
    this.ops.push({ kind, vmId, code, at: t0, millis: Date.now() - t0, ...(details === undefined ? {} : { details }) });
  }
}
