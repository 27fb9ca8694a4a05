/**
 * Every answer is a clean status while Postgres restarts (issue 16: "never INTERNAL"). The chaos
 * run once answered a StartVm and a StopVm INTERNAL during a whole-plane restart; this reproduces
 * the Postgres half of it alone, several times: StartVm and StopVm keep going against inventory
 * (with the scheduler and the executor's simulator, so the VMs run and the commands write) while
 * a private Postgres is shut down with `pg_ctl stop -m immediate` and started again, as the chaos
 * harness does. Each answer must be OK or a code a client handles (UNAVAILABLE and
 * DEADLINE_EXCEEDED are retried with the same command id; FAILED_PRECONDITION and ABORTED describe
 * the VM), never INTERNAL or UNKNOWN; inventory stays up and answers OK again once Postgres is back.
 */
import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { inventoryV1, modelV1 } from '@berth/contracts';
import { callUnary, isServiceError } from '@berth/grpc-kit';
import { infraAvailable, postgresBinDir } from '@berth/testing';
import { describe, expect, it } from 'vitest';
import { Plane } from './soak/plane.ts';

const GiB = 1024 ** 3;
const ROUNDS = 3;
const CLEAN = new Set(['OK', 'UNAVAILABLE', 'DEADLINE_EXCEEDED', 'FAILED_PRECONDITION', 'ABORTED']);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const between = (lo: number, hi: number): number => lo + Math.floor(Math.random() * (hi - lo));

interface Answer {
  readonly op: 'start' | 'stop';
  readonly code: string;
  readonly details: string;
  /** While Postgres was down or starting (from the crash until pg_ctl start returned). */
  readonly duringRestart: boolean;
}

describe.skipIf(!(await infraAvailable('postgres', 'nats')))('answers while Postgres restarts', () => {
  it(
    `StartVm and StopVm answer OK or a clean retryable code through ${ROUNDS} immediate shutdowns, never INTERNAL`,
    { timeout: 600_000 },
    async () => {
      expect(postgresBinDir(), 'the machine has Postgres binaries to run a private cluster').toBeDefined();
      const plane = await Plane.start({
        hosts: 2,
        hostCpus: 16,
        hostMemoryGiB: 64,
        only: ['inventory', 'scheduler', 'placement-executor'],
        ...(process.env['E2E_LOG_DIR'] ? { logDir: process.env['E2E_LOG_DIR'] } : {}),
      });
      try {
        const vmIds = Array.from({ length: 6 }, (_, i) => `restart-${i + 1}`);
        for (const vmId of vmIds)
          await callUnary(plane.inventory, 'composeVm', {
            meta: { commandId: `compose-${vmId}` },
            vmId,
            spec: modelV1.VmSpec.fromPartial({ name: vmId, vcpus: 1, memoryBytes: GiB }),
          });
        const until = Date.now() + 120_000;
        let running = 0;
        while (running < vmIds.length && Date.now() < until) {
          await sleep(500);
          running = (await callUnary(plane.inventory, 'listVms', { hostId: '', status: inventoryV1.VmStatus.VM_STATUS_RUNNING })).vms
            .length;
        }
        expect(running, 'VMs running before the first shutdown').toBe(vmIds.length);

        const answers: Answer[] = [];
        let restarting = false;
        const inFlight = new Set<Promise<void>>();
        const one = async (): Promise<void> => {
          const op = Math.random() < 0.5 ? 'start' : 'stop';
          const vmId = vmIds[Math.floor(Math.random() * vmIds.length)]!;
          const during = restarting;
          const deadline = Date.now() + 8000;
          const meta = { commandId: randomUUID() };
          try {
            if (op === 'start') await callUnary(plane.inventory, 'startVm', { meta, vmId }, { deadline });
            else await callUnary(plane.inventory, 'stopVm', { meta, vmId, force: true }, { deadline });
            answers.push({ op, code: 'OK', details: '', duringRestart: during || restarting });
          } catch (e) {
            const code = isServiceError(e) ? grpc.status[e.code] : 'CLIENT_ERROR';
            answers.push({ op, code, details: isServiceError(e) ? e.details : String(e), duringRestart: during || restarting });
          }
        };
        const churn = setInterval(() => {
          if (inFlight.size >= 16) return;
          const p = one().finally(() => inFlight.delete(p));
          inFlight.add(p);
        }, 40);
        try {
          for (let round = 1; round <= ROUNDS; round++) {
            await sleep(between(1500, 3000));
            restarting = true;
            await plane.pg.crash();
            await sleep(between(200, 1500));
            await plane.pg.start();
            restarting = false;
            await sleep(between(3000, 5000));
          }
        } finally {
          clearInterval(churn);
          await Promise.all([...inFlight]);
        }

        const byCode: Record<string, number> = {};
        for (const a of answers) byCode[`${a.op}:${a.code}`] = (byCode[`${a.op}:${a.code}`] ?? 0) + 1;
        // What the clean failures said (the error each was mapped from), for the reader of the run.
        const said: Record<string, number> = {};
        for (const a of answers)
          if (a.code !== 'OK')
            said[`${a.code}: ${a.details.replace(/\d+/g, 'N')}`] = (said[`${a.code}: ${a.details.replace(/\d+/g, 'N')}`] ?? 0) + 1;
        console.log(JSON.stringify({ answers: answers.length, byCode, said }));
        const unclean = answers.filter((a) => !CLEAN.has(a.code));
        const handlerErrors = [...plane.services.values()].flatMap((h) =>
          h.jsonLogs().filter((l) => l['msg'] === 'unhandled error in gRPC handler'),
        );
        expect({ unclean, handlerErrors }).toEqual({ unclean: [], handlerErrors: [] });
        // The shutdowns were met: calls failed cleanly while Postgres was away, and succeeded around them.
        expect(answers.filter((a) => a.duringRestart && a.code === 'UNAVAILABLE').length).toBeGreaterThan(0);
        expect(answers.filter((a) => a.code === 'OK').length).toBeGreaterThan(0);
        expect(plane.exitedOnTheirOwn()).toEqual([]);

        // Recovered without a restart of inventory: a command goes through again.
        const vmId = vmIds[0]!;
        let last = '';
        for (const recoverBy = Date.now() + 60_000; Date.now() < recoverBy; await sleep(500)) {
          try {
            await callUnary(
              plane.inventory,
              'stopVm',
              { meta: { commandId: randomUUID() }, vmId, force: true },
              { deadline: Date.now() + 8000 },
            );
            last = 'OK';
            break;
          } catch (e) {
            last = isServiceError(e) ? `${grpc.status[e.code]}: ${e.details}` : String(e);
            if (isServiceError(e) && e.code === grpc.status.FAILED_PRECONDITION) break; // answered from the log: Postgres is back
          }
        }
        expect(last).toMatch(/^(OK|FAILED_PRECONDITION)/);
      } finally {
        await plane.destroy();
      }
    },
  );
});
