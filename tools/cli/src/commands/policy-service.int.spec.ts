import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, deletePrefixedStreams, infraAvailable, natsUrl, testSubjectPrefix, type TestDatabase } from '@berth/testing';
import { runCli } from '../cli.ts';
import { startServiceProcess, stopServiceProcess, type ServiceProcess } from '../testing/service-process.ts';

/** `berth policy apply|show|decisions|replay` against the real telemetry process (tools never import services). */
/** A complete host sample (every statistic vdsm's host collectors make mandatory) and one guest. */
const sample = (hostId: string) => ({
  v: 1,
  hostId,
  at: new Date().toISOString(),
  capabilities: { hostMemory: true, ksmStats: true, ksmRun: true, ksmTune: true, cpuTune: true, ioTune: true, balloon: true },
  host: {
    mem_available: 16_000_000,
    mem_unused: 8_000_000,
    mem_free: 8_000_000,
    swap_in: 0,
    swap_out: 0,
    anon_pages: 0,
    swap_total: 0,
    swap_usage: 0,
    ksm_full_scans: 0,
    ksm_pages_sharing: 0,
    ksm_pages_unshared: 0,
    ksm_run: 0,
    ksm_pages_shared: 0,
    ksm_pages_to_scan: 100,
    ksm_pages_volatile: 0,
    ksm_sleep_millisecs: 10,
    ksm_merge_across_nodes: 1,
    ksm_shareable: 0,
    ksmd_cpu_usage: 0,
    cpu_count: 8,
  },
  guests: [
    {
      vmId: 'vm-a',
      stats: { balloon_cur: 4_000_000, balloon_max: 4_000_000, vcpu_quota: -1, vcpu_period: 100_000, vcpu_count: 2 },
    },
  ],
});

describe.skipIf(!(await infraAvailable('postgres', 'nats')))('berth policy against telemetry', () => {
  let db: TestDatabase;
  let nc: NatsConnection;
  let service: ServiceProcess | undefined;
  let dir = '';
  const prefix = testSubjectPrefix('clipol');

  async function berth(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(argv, {
      env: { BERTH_TELEMETRY_ADDR: service?.address },
      io: { stdout: (t) => out.push(t), stderr: (t) => err.push(t) },
    });
    return { code, out: out.join('\n'), err: err.join('\n') };
  }
  const ok = async (...argv: string[]): Promise<string> => {
    const r = await berth(...argv);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    return r.out;
  };
  const policyDir = (name: string, files: Record<string, string>): string => {
    const d = join(dir, name);
    mkdirSync(d);
    for (const [f, text] of Object.entries(files)) writeFileSync(join(d, f), text);
    return d;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'berth-cli-policy-'));
    [db, nc] = await Promise.all([createTestDatabase('cli_policy'), connect({ servers: natsUrl() })]);
    service = await startServiceProcess('telemetry', 'TELEMETRY_GRPC_PORT', {
      NATS_URL: natsUrl(),
      NATS_PREFIX: prefix,
      DATABASE_URL: db.url,
      TELEMETRY_POLICY_INTERVAL: '300ms',
      TELEMETRY_SAMPLE_INTERVAL: '200ms',
      TELEMETRY_LOG_FLUSH: '20ms',
      TELEMETRY_CONTROL_TIMEOUT: '1s',
    });
  });

  afterAll(async () => {
    await stopServiceProcess(service);
    await nc?.close();
    await deletePrefixedStreams(prefix);
    await db?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('apply, show, a bad file refused naming file and line with nothing changed, then decisions and a replay with identical controls', async () => {
    // the stock-compatible default is there from the start
    expect(await ok('policy', 'show')).toMatch(/scope:\s+default\n.*\nsource:\s+builtin/s);

    const good = policyDir('good', {
      '01-shrink.policy':
        '# every guest to 3/4 of its maximum\n(with Guests guest (guest.Control "balloon_target" (* guest.balloon_max 0.75)))\n',
    });
    const applied = await ok('policy', 'apply', good, '--host', 'h1');
    expect(applied).toMatch(/scope:\s+host:h1/);
    expect(applied).toMatch(/version:\s+1/);
    expect(applied).toMatch(/files:\s+01-shrink\.policy/);
    const shown = await ok('policy', 'show', '--host', 'h1', '--text');
    expect(shown).toMatch(/version:\s+1/);
    expect(shown).toMatch(/scopes: default, host:h1/);
    expect(shown).toContain(';; 01-shrink.policy\n# every guest to 3/4');
    expect(await ok('policy', 'show', '--resolve', 'h1')).toMatch(/scope:\s+host:h1/);
    expect(JSON.parse(await ok('policy', 'show', '--host', 'h1', '--json'))).toMatchObject({ policy: { scope: 'host:h1', version: 1 } });

    // a parse error (a closing parenthesis too many) in the second file: exit 2, file:line: reason, nothing applied
    const bad = policyDir('bad', {
      '01-shrink.policy': '(defvar x 1)\n',
      '02-broken.policy': '# line 1\n\n(defvar y 1))\n',
    });
    const refused = await berth('policy', 'apply', bad, '--host', 'h1');
    expect(refused.code).toBe(2);
    expect(refused.out).toBe('');
    expect(refused.err).toMatch(/^berth policy apply: DIR: 02-broken\.policy:3: \S.*/);
    expect(await ok('policy', 'show', '--host', 'h1', '--text')).toBe(shown);
    const missing = await berth('policy', 'apply', join(dir, 'nowhere'));
    expect(missing.code).not.toBe(0);

    // samples of h1 arrive (as the executor publishes them): the loop decides, records, replays identically
    const subject = `${prefix}.berth.samples.h1`;
    let decisions = '';
    for (let i = 0; i < 100 && !/^[0-9a-f-]{36}\s/m.test(decisions); i++) {
      nc.publish(subject, JSON.stringify(sample('h1')));
      await new Promise((r) => setTimeout(r, 200));
      decisions = await ok('policy', 'decisions', 'h1');
    }
    expect(decisions).toMatch(/^DECISION\s+AT\s+POLICY\s+CONTROLS$/m);
    const line = decisions.split('\n').find((l) => /^[0-9a-f-]{36}\s/.test(l))!;
    expect(line).toMatch(/host:h1 v1\s+balloon vm-a$/);
    const id = line.split(/\s+/)[0]!;
    const replay = await ok('policy', 'replay', id);
    expect(replay).toMatch(new RegExp(`decision:\\s+${id}`));
    expect(replay).toMatch(/identical:\s+yes/);
    expect(replay).toMatch(/recorded: .*"targetKib":3000000/);
    const json = JSON.parse(await ok('policy', 'replay', id, '--json')) as { identical: boolean };
    expect(json.identical).toBe(true);

    const unknown = await berth('policy', 'replay', '00000000-0000-4000-8000-000000000000');
    expect(unknown.code).toBe(1);
    expect(unknown.err).toMatch(/NOT_FOUND/);
    expect((await berth('policy', 'decisions', 'h1', '--limit', '0')).err).toMatch(/--limit: must be a whole number from 1 to 1000/);
    expect(await ok('policy', 'decisions', 'nobody')).toBe('no decisions recorded for nobody');
  });
});
