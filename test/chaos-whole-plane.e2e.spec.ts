/**
 * The whole plane killed mid-load (issue 16), CHAOS_ROUNDS rounds (default 3): inventory, scheduler,
 * placement-executor (sampling its hosts for telemetry), migration and telemetry SIGKILLed, a private Postgres shut down immediately and a private
 * nats-server SIGKILLed, each at a random moment under churn (composes, deletes, stops, starts,
 * migrations); everything restarted; then the audit of test/soak/audit.ts, printed as JSON. Nothing
 * acknowledged is lost, nothing applied twice, no host over capacity at any prefix of its log, no
 * claim leaked, no VM running twice, every committed event published once; telemetry's policy loop
 * resumes after every restart and never records twice for a host within one interval.
 * `npm run chaos -- --rounds N` runs the same audit alone.
 */
import { describe, expect, it } from 'vitest';
import { infraAvailable, postgresBinDir } from '@berth/testing';
import { runChaos } from './soak/chaos.ts';

const rounds = Number(process.env['CHAOS_ROUNDS'] ?? 3);

describe.skipIf(!(await infraAvailable('postgres', 'nats')))('the whole plane killed mid-load', () => {
  it(`${rounds} rounds: every acknowledged request ends in its outcome, nothing lost or applied twice`, { timeout: 900_000 }, async () => {
    expect(postgresBinDir(), 'the machine has Postgres binaries to run a private cluster').toBeDefined();
    const report = await runChaos({ rounds, ...(process.env['E2E_LOG_DIR'] ? { logDir: process.env['E2E_LOG_DIR'] } : {}) });
    console.log(JSON.stringify(report));
    expect(report.rounds).toBe(rounds);
    expect(report.acknowledged).toBeGreaterThan(10);
    expect(report.completed).toBeGreaterThan(0);
    expect(report.migrationsAcknowledged + report.deletesAcknowledged).toBeGreaterThan(0);
    expect(report.problems).toEqual([]);
    expect({
      lost: report.lost,
      duplicated: report.duplicated,
      overcommitted: report.overcommitted,
      leakedClaims: report.leakedClaims,
      duplicateDomains: report.duplicateDomains,
    }).toEqual({ lost: 0, duplicated: 0, overcommitted: 0, leakedClaims: 0, duplicateDomains: 0 });
    expect(report.republished).toBe(0);
    expect(report.telemetry.resumedRounds).toBe(rounds);
    expect(report.telemetry.hosts).toBeGreaterThan(0);
    expect(report.telemetry.decisions + report.telemetry.quietIntervals).toBeGreaterThan(0);
    expect(report.telemetry.duplicateDecisions).toBe(0);
  });
});
