/**
 * Before/after for a benchmark: runs it in two or more checkouts of Berth (git worktrees) in
 * interleaved rounds, each run against a fresh private nats-server of the production line
 * (infra/nats/private.conf, `sync_interval: always`), and prints each tree's mean and its ratio to the
 * first tree's. The machine's speed moves by ±25% from minute to minute, so only runs taken in the
 * same minutes, in rotating order, compare (docs/performance.md, "Issue 10 benchmarks").
 *
 *   npx tsx test/bench/compare-trees.ts [--bench e2e|inventory|scheduler|event-store] [--rounds 6]
 *     [--out runs.jsonl] [--args "--hosts 200 ..."] -- /work/wt/before /work/wt/after[@KEY=VALUE,...]
 *
 * A tree may carry environment for its runs after `@` (e.g. `E2E_NODE_ARGS=--cpu-prof`). Each tree runs
 * its own copy of the benchmark file (its node_modules must be installed) from its sources
 * (BERTH_RUN_FROM_SOURCE=1), with the machine's Postgres: the code compared, however it is launched.
 * With `--as-started`, each tree's services run as its own `npm start` and `npm run bench:*` run them
 * instead: its esbuild bundle when the tree has the build (scripts/service-build.mjs; made fresh
 * first with its scripts/prestart.mjs), else its sources under tsx (the trees before the build).
 * Every run is one line of `--out`; the last line printed is the summary as JSON, with each tree's
 * mean, its ratio to the first tree's, and the median of its per-round ratios (each run against the
 * first tree's run of the same round). Nothing else may run on the machine meanwhile.
 */
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { isProductionLine, NATS_SERVER_BIN, natsServerBinVersion, PrivateNatsServer } from '@berth/testing';
import { median } from './stats.ts';

interface BenchKind {
  readonly file: string;
  readonly args: string;
  /** The figure compared (higher is better). */
  readonly figure: string;
  /** A figure of the same run that only the machine moves (code alike in every tree), to divide by. */
  readonly baseline?: string;
}

const BENCHES: Readonly<Record<string, BenchKind>> = {
  e2e: { file: 'test/bench/e2e.bench.ts', args: '--hosts 200 --vms 1000 --warmup 500 --nats shared', figure: 'vmsPerSecond' },
  inventory: { file: 'services/inventory/bench/inventory.bench.ts', args: '', figure: 'claimsPerSecond' },
  scheduler: {
    file: 'libs/scoring/bench/scheduler.bench.ts',
    args: '--hosts 5000 --vms 20000',
    figure: 'placementsPerSecond',
    baseline: 'rooflinePlacementsPerSecond',
  },
  'event-store': { file: 'libs/event-store/bench/event-store.bench.ts', args: '', figure: 'appendVsRawRatio' },
};

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    bench: { type: 'string', default: 'e2e' },
    rounds: { type: 'string', default: '6' },
    out: { type: 'string', default: `compare-${Date.now()}.jsonl` },
    args: { type: 'string' },
    'as-started': { type: 'boolean', default: false },
  },
});
const chosen = BENCHES[values.bench];
if (chosen === undefined) throw new Error(`--bench must be one of ${Object.keys(BENCHES).join(', ')}, got '${values.bench}'`);
const rounds = Number(values.rounds);
if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds must be a positive integer, got '${values.rounds}'`);
if (positionals.length < 2) throw new Error('name at least two trees: the first is the baseline');
const kind: BenchKind = chosen;

/** `path@K=V,K2=V2` → the checkout and the environment of its runs. */
function treeOf(spec: string): { label: string; dir: string; env: Record<string, string> } {
  const [dir, extra] = spec.split(/@(.*)/s, 2) as [string, string | undefined];
  const env: Record<string, string> = {};
  for (const kv of extra?.split(',') ?? []) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new Error(`environment of ${dir} must be KEY=VALUE pairs, got '${kv}'`);
    env[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  return { label: spec, dir, env };
}
/**
 * Whether a tree's services run from its sources under tsx: always, unless --as-started and the tree has
 * the build (made fresh here with its prestart, as its npm start would); then its esbuild bundle.
 */
function fromSource(dir: string): boolean {
  if (!values['as-started'] || !existsSync(join(dir, 'scripts', 'service-build.mjs'))) return true;
  const built = spawnSync(process.execPath, ['scripts/prestart.mjs'], { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] });
  if (built.status !== 0) throw new Error(`${dir}: scripts/prestart.mjs failed (exit ${built.status})`);
  return false;
}
const trees = positionals.map(treeOf).map((t) => ({ ...t, fromSource: fromSource(t.dir) }));
for (const t of trees) console.error(`${t.label}: services ${t.fromSource ? 'from its sources under tsx' : 'from its esbuild bundle'}`);
// The benchmarks' figures are of the production line (sync_interval: always); an older server's are not comparable.
if (!isProductionLine())
  throw new Error(`${NATS_SERVER_BIN} is nats-server ${natsServerBinVersion() ?? '(unknown)'}: run scripts/fetch-nats-server.sh first`);
console.error(`each run on a fresh nats-server ${natsServerBinVersion() ?? ''} (${NATS_SERVER_BIN}, infra/nats/private.conf)`);

/** CPU pressure (`some`, avg10) before a run: what else the machine was doing. */
function pressure(): number | undefined {
  try {
    return Number(/some avg10=([\d.]+)/.exec(readFileSync('/proc/pressure/cpu', 'utf8'))?.[1]);
  } catch {
    return undefined;
  }
}

/** One run of the benchmark in `tree`: its last stdout line, parsed. */
async function runOnce(tree: (typeof trees)[number]): Promise<Record<string, unknown>> {
  const nats = await PrivateNatsServer.start();
  try {
    const args = [kind.file, ...(values.args ?? kind.args).split(' ').filter(Boolean)];
    const child = spawn('npx', ['tsx', ...args], {
      cwd: tree.dir,
      env: { ...process.env, NATS_URL: nats.url, BERTH_RUN_FROM_SOURCE: tree.fromSource ? '1' : '0', ...tree.env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    const last = stdout.trim().split('\n').at(-1) ?? '';
    if (code !== 0 || !last.startsWith('{')) throw new Error(`${tree.label}: exit ${code}, last line '${last}'`);
    return JSON.parse(last) as Record<string, unknown>;
  } finally {
    await nats.destroy();
  }
}

const mean = (xs: readonly number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;
const results = new Map<string, Record<string, unknown>[]>(trees.map((t) => [t.label, []]));
for (let round = 0; round < rounds; round++) {
  for (let j = 0; j < trees.length; j++) {
    const tree = trees[(round + j) % trees.length]!;
    const load = pressure();
    const result = await runOnce(tree);
    results.get(tree.label)!.push(result);
    appendFileSync(values.out, `${JSON.stringify({ tree: tree.label, round, at: new Date().toISOString(), cpuPressure: load, result })}\n`);
    console.error(`round ${round + 1}/${rounds} ${tree.label}: ${kind.figure} ${String(result[kind.figure])}`);
  }
}

const figureOf = (r: Record<string, unknown>): number => Number(r[kind.figure]);
const perBaselineOf = (r: Record<string, unknown>): number => figureOf(r) / Number(r[kind.baseline ?? '']);
const baseRuns = results.get(trees[0]!.label)!.map(figureOf);
const base = mean(baseRuns);
const basePerBaseline = mean(results.get(trees[0]!.label)!.map(perBaselineOf));
const summary = trees.map((t) => {
  const runs = results.get(t.label)!;
  // Each round's run against the first tree's run of the same round: the machine moves less within a round.
  const roundRatios = runs.map((r, i) => figureOf(r) / baseRuns[i]!);
  const cpu: Record<string, number> = {};
  for (const key of Object.keys((runs[0]!['cpuMillisPerVm'] as Record<string, number> | undefined) ?? {}))
    cpu[key] = Math.round(mean(runs.map((r) => (r['cpuMillisPerVm'] as Record<string, number>)[key] ?? 0)) * 100) / 100;
  const m = mean(runs.map(figureOf));
  return {
    tree: t.label,
    runs: runs.map(figureOf),
    mean: Math.round(m * 1000) / 1000,
    ratioToFirst: Math.round((m / base) * 1000) / 1000,
    medianRoundRatio: Math.round(median(roundRatios) * 1000) / 1000,
    ...(kind.baseline === undefined
      ? {}
      : { [`ratioToFirstPer_${kind.baseline}`]: Math.round((mean(runs.map(perBaselineOf)) / basePerBaseline) * 1000) / 1000 }),
    ...(Object.keys(cpu).length > 0 ? { cpuMillisPerVm: cpu } : {}),
  };
});
for (const s of summary)
  console.log(
    `${s.tree}: ${kind.figure} mean ${s.mean} (${s.runs.join(', ')}), ratio ${s.ratioToFirst}, median round ratio ${s.medianRoundRatio}`,
  );
console.log(JSON.stringify({ bench: values.bench, figure: kind.figure, rounds, out: values.out, trees: summary }));
