/**
 * Telemetry in the killed plane: its policy loop records, per host and interval, either a decision
 * (`DecisionRecorded` on `host-<hostId>`) or a quiet entry (an entry of an `UnchangedIntervalsRecorded`, formerly `IntervalsUnchanged`),
 * read here from its log directly. After every restart the loop must record for every host again
 * (it resumes), and no host may get two records within one interval: a decision written twice (a
 * retried append that had gone through, two loops at once) or a round run twice.
 */
import pg from 'pg';

export interface IntervalRecord {
  readonly hostId: string;
  readonly atMillis: number;
  readonly kind: 'decision' | 'quiet' | 'failed';
}

export interface TelemetryAudit {
  /** `DecisionRecorded` events (a control changed). */
  decisions: number;
  /** Quiet intervals (nothing changed), failed ones included. */
  quietIntervals: number;
  failedIntervals: number;
  /** Vapor VMs powered off and restarted for pressure. */
  pressurePowerOffs: number;
  /** Hosts the loop recorded for. */
  hosts: number;
  /** Two records of one host less than half a policy interval apart. */
  duplicateDecisions: number;
  /** Restarts after which the loop recorded for every host (waited for before the next kill). */
  resumedRounds: number;
  /** The longest time from a restart to the loop's records for every host, in seconds. */
  maxResumeSeconds: number;
}

/** Every interval record of the telemetry log (after `sinceMillis` when given), oldest first. */
export async function intervalRecords(databaseUrl: string, sinceMillis = 0): Promise<IntervalRecord[]> {
  const c = new pg.Client({ connectionString: databaseUrl });
  await c.connect();
  try {
    // Only the fields the audit reads: a decision's recorded inputs are large.
    const r = await c.query<{
      type: string;
      host: string | null;
      at: string | null;
      entries: { hostId: string; at: string; error?: string }[] | null;
    }>(
      `SELECT type, data->>'hostId' AS host, data->>'at' AS at, data->'entries' AS entries FROM events
        WHERE type IN ('DecisionRecorded', 'UnchangedIntervalsRecorded', 'IntervalsUnchanged') AND occurred_at >= to_timestamp($1::double precision / 1000)
        ORDER BY global_position`,
      [Math.max(0, sinceMillis - 60_000)], // occurred_at is the append's time: a little after the interval's
    );
    const out: IntervalRecord[] = [];
    for (const row of r.rows) {
      if (row.type === 'DecisionRecorded' && row.host !== null && row.at !== null) {
        out.push({ hostId: row.host, atMillis: Date.parse(row.at), kind: 'decision' });
      } else if (row.type === 'UnchangedIntervalsRecorded' || row.type === 'IntervalsUnchanged') {
        for (const e of row.entries ?? []) out.push({ hostId: e.hostId, atMillis: Date.parse(e.at), kind: e.error ? 'failed' : 'quiet' });
      }
    }
    return out.filter((x) => x.atMillis >= sinceMillis).sort((a, b) => a.atMillis - b.atMillis);
  } catch (e) {
    // Before telemetry's first start there is no events table yet.
    if (e instanceof Error && /relation "events" does not exist|does not exist/.test(e.message)) return [];
    throw e;
  } finally {
    await c.end();
  }
}

/**
 * Waits (at most `millis`) until the loop recorded for each of `hostIds` after `sinceMillis`;
 * returns the seconds it took, or undefined when it did not within the bound.
 */
export async function telemetryResumed(
  databaseUrl: string,
  hostIds: readonly string[],
  sinceMillis: number,
  millis: number,
): Promise<number | undefined> {
  const until = Date.now() + millis;
  while (Date.now() < until) {
    const seen = new Set((await intervalRecords(databaseUrl, sinceMillis).catch(() => [])).map((r) => r.hostId));
    if (hostIds.every((h) => seen.has(h))) return (Date.now() - sinceMillis) / 1000;
    await new Promise((r) => setTimeout(r, 500));
  }
  return undefined;
}

/** The audit of the whole log; `resumes` holds what telemetryResumed answered after each restart. */
export async function auditTelemetry(
  databaseUrl: string,
  policyMillis: number,
  resumes: readonly (number | undefined)[],
  problems: string[],
): Promise<TelemetryAudit> {
  const records = await intervalRecords(databaseUrl);
  const c = new pg.Client({ connectionString: databaseUrl });
  await c.connect();
  let pressurePowerOffs = 0;
  try {
    const r = await c.query<{ n: string }>(`SELECT count(*) AS n FROM events WHERE type = 'VmPoweredOffForPressure'`);
    pressurePowerOffs = Number(r.rows[0]?.n ?? 0);
  } finally {
    await c.end();
  }
  const byHost = new Map<string, IntervalRecord[]>();
  for (const x of records) byHost.set(x.hostId, [...(byHost.get(x.hostId) ?? []), x]);
  let duplicateDecisions = 0;
  for (const [hostId, list] of byHost) {
    for (let i = 1; i < list.length; i++) {
      const gap = list[i]!.atMillis - list[i - 1]!.atMillis;
      if (gap < policyMillis / 2) {
        duplicateDecisions++;
        if (duplicateDecisions <= 10)
          problems.push(
            `telemetry: ${hostId} has a ${list[i - 1]!.kind} and a ${list[i]!.kind} ${gap} ms apart (interval ${policyMillis} ms)`,
          );
      }
    }
  }
  resumes.forEach((s, i) => {
    if (s === undefined) problems.push(`telemetry: the policy loop did not record for every host after restart ${i + 1}`);
  });
  const resumed = resumes.filter((s): s is number => s !== undefined);
  return {
    decisions: records.filter((x) => x.kind === 'decision').length,
    quietIntervals: records.filter((x) => x.kind !== 'decision').length,
    failedIntervals: records.filter((x) => x.kind === 'failed').length,
    pressurePowerOffs,
    hosts: byHost.size,
    duplicateDecisions,
    resumedRounds: resumed.length,
    maxResumeSeconds: resumed.length === 0 ? 0 : Math.round(Math.max(...resumed) * 10) / 10,
  };
}
