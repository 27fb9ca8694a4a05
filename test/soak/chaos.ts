/**
 * The whole-plane crash audit (issue 16): churn runs against the plane while, each round, every
 * Berth process is SIGKILLed, Postgres is shut down immediately and NATS is SIGKILLed, each at its
 * own random moment; then everything restarts and, once telemetry's policy loop recorded for every
 * host again (at most 60 s), the churn goes on. After the last round the churn stops, the plane gets
 * a bounded time to settle, and the audits (audit.ts, telemetry-audit.ts) report.
 */
import { loadavg } from 'node:os';
import { inventoryV1 } from '@berth/contracts';
import { callUnary } from '@berth/grpc-kit';
import { audit, settle, type AuditReport } from './audit.ts';
import { Load } from './load.ts';
import { Plane, SERVICES, TELEMETRY_POLICY_MILLIS } from './plane.ts';
import { auditTelemetry, telemetryResumed, type TelemetryAudit } from './telemetry-audit.ts';

export interface ChaosOptions {
  readonly rounds: number;
  /** Operations per second of churn. */
  readonly rate?: number;
  /** How long the plane may take to settle after the last restart. */
  readonly settleMillis?: number;
  readonly logDir?: string;
  /** Added to every service's environment. */
  readonly serviceEnv?: Readonly<Record<string, string>>;
  readonly log?: (line: string) => void;
}

async function waitForRunning(plane: Plane, count: number, millis: number): Promise<void> {
  const until = Date.now() + millis;
  while (Date.now() < until) {
    const vms = (await callUnary(plane.inventory, 'listVms', { hostId: '', status: inventoryV1.VmStatus.VM_STATUS_RUNNING })).vms;
    if (vms.length >= count) return;
    await sleep(500);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const between = (lo: number, hi: number): number => lo + Math.floor(Math.random() * (hi - lo));

export async function runChaos(opts: ChaosOptions): Promise<
  AuditReport & {
    telemetry: TelemetryAudit;
    seconds: number;
    opsByCode: Record<string, number>;
    /** What the failed answers said (digits as N), counted: which error each was mapped from (not the refusals about a VM). */
    failureDetails: Record<string, number>;
    /** Per round: from the kill of the last part until every service answered SERVING again, and the load average then. */
    restarts: { seconds: number; load: number }[];
  }
> {
  const log = opts.log ?? ((l: string) => console.error(l));
  const t0 = Date.now();
  const plane = await Plane.start({
    hosts: 6,
    hostCpus: 16,
    hostMemoryGiB: 64,
    ...(opts.logDir ? { logDir: opts.logDir } : {}),
    ...(opts.serviceEnv ? { serviceEnv: opts.serviceEnv } : {}),
  });
  log(`plane up in ${Date.now() - t0} ms (Postgres :${plane.pg.port}, NATS ${plane.nats.url})`);
  const load = new Load(plane, { label: 'chaos' });
  try {
    load.start(opts.rate ?? 8);
    // Warm up until VMs run, so stops, starts and migrations have something to act on when the plane dies.
    await waitForRunning(plane, 8, 60_000);
    const resumes: (number | undefined)[] = [];
    const restarts: { seconds: number; load: number }[] = [];
    for (let round = 1; round <= opts.rounds; round++) {
      // Every part dies at its own random moment within two seconds, under load.
      const victims: (() => Promise<void>)[] = [
        ...SERVICES.map((s) => () => plane.kill(s)),
        () => plane.pg.crash(),
        () => plane.nats.kill(),
      ];
      await Promise.all(victims.map(async (kill) => (await sleep(between(0, 2000)), await kill())));
      log(`round ${round}: everything killed after ${load.ops.length} operations`);
      const killed = Date.now();
      await sleep(between(200, 1500));
      await plane.pg.start();
      await plane.nats.start();
      await plane.startServices();
      restarts.push({ seconds: +((Date.now() - killed) / 1000).toFixed(1), load: +loadavg()[0]!.toFixed(1) });
      log(
        `round ${round}: everything restarted (${Math.round((Date.now() - t0) / 1000)} s; every service SERVING ${restarts.at(-1)!.seconds} s after the kill, load ${restarts.at(-1)!.load})`,
      );
      const resumed = await telemetryResumed(plane.pg.url('berth_telemetry'), plane.hostIds(), killed, 60_000);
      resumes.push(resumed);
      log(
        `round ${round}: telemetry's policy loop ${resumed === undefined ? 'did NOT resume' : `resumed ${resumed.toFixed(1)} s after the kill`}`,
      );
      await sleep(between(3000, 7000));
    }
    await load.stop();
    const open = await settle(plane, opts.settleMillis ?? 120_000);
    const report = await audit(plane, load, opts.rounds, open);
    const telemetry = await auditTelemetry(plane.pg.url('berth_telemetry'), TELEMETRY_POLICY_MILLIS, resumes, report.problems);
    const opsByCode: Record<string, number> = {};
    for (const o of load.ops) opsByCode[`${o.kind}:${o.code}`] = (opsByCode[`${o.kind}:${o.code}`] ?? 0) + 1;
    const failureDetails: Record<string, number> = {};
    for (const o of load.ops) {
      if (o.code === 'OK' || o.code === 'FAILED_PRECONDITION' || o.code === 'NOT_FOUND') continue; // answers about the VM
      const key = `${o.code}: ${(o.details ?? '').replace(/\d+/g, 'N').slice(0, 160)}`;
      failureDetails[key] = (failureDetails[key] ?? 0) + 1;
    }
    for (const crashed of plane.exitedOnTheirOwn()) report.problems.push(`${crashed} logged a fatal error`);
    // Every answer is a clean status, also while the plane restarts: an INTERNAL fails the run.
    for (const o of load.unclean())
      report.problems.push(`${o.kind} ${o.vmId} answered ${o.code} (${o.details ?? ''}) ${Math.round((o.at - t0) / 1000)} s into the run`);
    return { ...report, telemetry, seconds: Math.round((Date.now() - t0) / 1000), opsByCode, failureDetails, restarts };
  } finally {
    await load.stop();
    await plane.destroy();
  }
}
