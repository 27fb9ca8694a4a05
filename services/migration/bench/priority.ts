/**
 * The migration benchmarks' fixed scheduling priority (session 9). `--nice N` (default -10) runs the
 * benchmark at nice N, so that on a shared, loaded machine its timings measure the planner rather
 * than the other tenants; `--nice 0` runs it as started. On Linux with autogroup scheduling
 * (`/proc/sys/kernel/sched_autogroup_enabled`, as on the project's machines) a task's nice only
 * orders it against tasks of its own session, so the benchmark re-runs itself as the leader of a
 * session of its own (`setsid`) and sets that session's autogroup nice as well as its own: the
 * priority applies to the benchmark's process alone. What was applied is part of the figures.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';

const CHILD = 'BERTH_BENCH_PRIORITY_CHILD';

export interface Priority {
  /** What `--nice` asked for. */
  readonly requested: number;
  /** The process's nice value as it runs. */
  readonly nice: number;
  /** Its session's autogroup nice (Linux with autogroup), undefined elsewhere. */
  readonly autogroupNice: number | undefined;
  /** Why the request was not applied in full, when it was not. */
  readonly note?: string;
}

/** Whether this process leads its session (so its autogroup is its own). */
function sessionLeader(): boolean {
  try {
    // /proc/self/stat: "pid (comm) state ppid pgrp session ..."; comm may hold spaces, not ')'.
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[3]) === process.pid;
  } catch {
    return false;
  }
}

function autogroupNice(): number | undefined {
  try {
    const m = /nice\s+(-?\d+)/.exec(readFileSync('/proc/self/autogroup', 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Applies `requested` (see above). In the parent, re-runs the benchmark in a new session and exits
 * with its status; returns in the process that runs the benchmark.
 */
export function benchPriority(requested: number): Priority {
  const notes: string[] = [];
  if (requested !== 0) {
    // Before the child and its threads exist: a nice value is per thread, inherited when one is made.
    try {
      setPriority(requested);
    } catch (e) {
      notes.push(`nice ${requested} refused: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  if (requested !== 0 && process.env[CHILD] === undefined && autogroupNice() !== undefined) {
    const r = spawnSync('setsid', ['-w', process.execPath, ...process.execArgv, ...process.argv.slice(1)], {
      stdio: 'inherit',
      env: { ...process.env, [CHILD]: '1' },
    });
    if (r.error === undefined) process.exit(r.status ?? 1);
    // No setsid: carry on here, with the task's nice only.
  }
  if (requested !== 0) {
    if (process.env[CHILD] !== undefined && sessionLeader()) {
      try {
        writeFileSync('/proc/self/autogroup', String(requested));
      } catch (e) {
        notes.push(`autogroup nice ${requested} refused: ${e instanceof Error ? e.message : String(e)}`);
      }
    } else if (autogroupNice() !== undefined) {
      notes.push('not leading a session of its own (no setsid): the nice orders it only within its session');
    }
  }
  return {
    requested,
    nice: getPriority(),
    autogroupNice: autogroupNice(),
    ...(notes.length > 0 && { note: notes.join('; ') }),
  };
}
