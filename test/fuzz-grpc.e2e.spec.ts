import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { create, fromBinary, toBinary, type DescMethod, type DescService } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import fc from 'fast-check';
import pg from 'pg';
import { BERTH_RPC_POLICY, defaultDescriptorSetPath } from '@berth/grpc-kit';
import { infraAvailable } from '@berth/testing';
import { descriptorRegistry, messageArbitrary, mutationArbitrary, servicesOf } from '@berth/testing/proto-fuzz';
import { RawGrpcClient, type RawAnswer } from './harness/raw-grpc.ts';
import { startSimPlane, type SimPlane } from './harness/sim-plane.ts';
import { identityTls, testTlsEnabled } from './harness/tls.ts';

/** Runs per RPC and input kind (FUZZ_RUNS=500 for a long run); FUZZ_SEED replays a failure. */
const RUNS = Number(process.env['FUZZ_RUNS'] ?? 6);
const SEED = process.env['FUZZ_SEED'] === undefined ? undefined : Number(process.env['FUZZ_SEED']);
const DEADLINE_MILLIS = 10_000;
/** What a refusal may answer; INTERNAL, UNKNOWN (a throw), UNAVAILABLE (a crash) and DEADLINE_EXCEEDED (a hang) may not. */
const CLEAN = new Set([
  grpc.status.OK,
  grpc.status.INVALID_ARGUMENT,
  grpc.status.NOT_FOUND,
  grpc.status.ALREADY_EXISTS,
  grpc.status.FAILED_PRECONDITION,
  grpc.status.OUT_OF_RANGE,
  grpc.status.ABORTED,
  grpc.status.RESOURCE_EXHAUSTED,
  grpc.status.PERMISSION_DENIED,
  grpc.status.UNAUTHENTICATED,
  // A method the service says it does not implement yet (the migration balancer's policy calls).
  grpc.status.UNIMPLEMENTED,
]);

type Owner = 'inventory' | 'scheduler' | 'executor' | 'migration' | 'telemetry';
const ownerOf = (s: DescService): Owner => s.typeName.split('.')[1] as Owner;

/**
 * Every RPC of every Berth service, with the real processes (inventory and the scheduler as
 * processes, the executor, migration and telemetry composition roots), Postgres and NATS: random
 * well-formed requests derived from the descriptors, and damaged encodings of them. Each answer is
 * a clean status within the deadline, and a refused command appends nothing to its service's log.
 * In the harness's TLS mode each RPC is called as an identity the policy table admits (the operator,
 * else the first service it names: the scheduler's and the migration service's claim and migration
 * calls to inventory), so every handler is fuzzed, not only the interceptor.
 */
describe.skipIf(!(await infraAvailable('postgres', 'nats')))('gRPC fuzzing of every RPC', () => {
  const registry = descriptorRegistry(defaultDescriptorSetPath());
  const services = servicesOf(registry, 'berth.').filter((s) => !s.typeName.startsWith('berth.testing.'));
  let plane: SimPlane;
  /** Clients by owner and caller (`operator`, or the service the policy admits). */
  const clients = new Map<string, RawGrpcClient>();
  /** Who calls `rpc` in TLS mode: the operator where the policy admits it, else the first service it names. */
  const callerOf = (rpc: string): string => {
    const roles = BERTH_RPC_POLICY[rpc] ?? [];
    if (roles.includes('operator')) return 'operator';
    return roles.find((r) => r.startsWith('service:'))?.slice('service:'.length) ?? 'operator';
  };
  const clientFor = (owner: Owner, rpc: string): RawGrpcClient => {
    const caller = testTlsEnabled() ? callerOf(rpc) : 'operator';
    const key = `${owner}|${caller}`;
    let c = clients.get(key);
    if (c === undefined) {
      const tls = testTlsEnabled() ? (caller === 'operator' ? identityTls('operator', 'e2e') : identityTls('service', caller)) : undefined;
      c = new RawGrpcClient(plane.addresses[owner], tls);
      clients.set(key, c);
    }
    return c;
  };
  const pools = new Map<Owner, pg.Pool>();

  beforeAll(async () => {
    plane = await startSimPlane('fuzzrpc', ['h1', 'h2']);
    await plane.compose('vm-known');
    for (const o of ['inventory', 'executor', 'migration', 'telemetry'] as const)
      pools.set(o, new pg.Pool({ connectionString: plane.dbs[o].url, max: 1 }));
  });
  afterAll(async () => {
    for (const c of clients.values()) c.close();
    await Promise.all([...pools.values()].map((p) => p.end()));
    await plane?.stop();
  });

  /** Events of `owner`'s log recorded under `commandId`. */
  const eventsOf = async (owner: Owner, commandId: string): Promise<number> => {
    const pool = pools.get(owner);
    if (pool === undefined) return 0; // the scheduler keeps no log
    const schema = (
      await pool.query<{ s: string }>(
        "SELECT table_schema AS s FROM information_schema.tables WHERE table_name = 'events' ORDER BY table_schema = 'public' LIMIT 1",
      )
    ).rows[0]?.s;
    if (schema === undefined) return 0;
    return Number(
      (await pool.query<{ n: string }>(`SELECT count(*) AS n FROM "${schema}".events WHERE command_id = $1`, [commandId])).rows[0]!.n,
    );
  };

  const call = (owner: Owner, m: DescMethod, body: Uint8Array): Promise<RawAnswer> => {
    const rpc = `${m.parent.typeName}/${m.name}`;
    const client = clientFor(owner, rpc);
    return m.methodKind === 'server_streaming' ? client.stream(`/${rpc}`, body, 300) : client.unary(`/${rpc}`, body, DEADLINE_MILLIS);
  };

  const check = (m: DescMethod, a: RawAnswer, what: string): void => {
    if (!CLEAN.has(a.code))
      throw new Error(`${m.parent.name}.${m.name} (${what}) answered ${grpc.status[a.code]}: ${a.details} after ${a.millis} ms`);
  };

  /** The command id a request carries in `meta`, if it decodes. */
  const commandIdOf = (m: DescMethod, body: Uint8Array): string | undefined => {
    try {
      const msg = fromBinary(m.input, body) as { meta?: { commandId?: string } };
      return msg.meta?.commandId || undefined;
    } catch {
      return undefined;
    }
  };

  const methods = services.flatMap((s) => s.methods.map((m) => [`${s.name}.${m.name}`, s, m] as const));

  it('covers every RPC of every service', () => {
    expect(services.map((s) => s.name).sort()).toEqual([
      'ExecutorService',
      'InventoryService',
      'MigrationService',
      'SchedulerService',
      'TelemetryService',
    ]);
    expect(methods.length).toBeGreaterThanOrEqual(48);
    // Every RPC has a caller the policy admits, so its handler (not only the interceptor) is fuzzed.
    for (const [name, s, m] of methods) {
      const roles = BERTH_RPC_POLICY[`${s.typeName}/${m.name}`] ?? [];
      expect(
        roles.some((r) => r === 'operator' || r.startsWith('service:')),
        `${name}: ${roles.join(', ')}`,
      ).toBe(true);
    }
  });

  it.each(methods)('%s: random requests and damaged encodings get a clean status; a refusal appends nothing', async (_name, s, m) => {
    const owner = ownerOf(s);
    const hasMeta = m.input.fields.some((f) => f.localName === 'meta');
    // Well-formed requests, most with a fresh command id so their effect can be found in the log.
    const requests = fc
      .tuple(messageArbitrary(m.input), fc.uuid(), fc.boolean())
      .map(([msg, id, fresh]) =>
        hasMeta && fresh ? toBinary(m.input, create(m.input, { ...msg.init, meta: { commandId: `fuzz-${id}` } })) : msg.bytes,
      );
    const damaged = messageArbitrary(m.input).chain((msg) => mutationArbitrary(msg.bytes));
    await fc.assert(
      fc.asyncProperty(fc.oneof(requests, damaged), async (body) => {
        const a = await call(owner, m, body);
        check(m, a, `request ${Buffer.from(body).toString('base64')}`);
        const commandId = commandIdOf(m, body);
        if (a.code !== grpc.status.OK && commandId !== undefined && commandId.startsWith('fuzz-')) {
          const appended = await eventsOf(owner, commandId);
          if (appended > 0)
            throw new Error(`${s.name}.${m.name} refused (${grpc.status[a.code]}: ${a.details}) yet appended ${appended} event(s)`);
        }
      }),
      { numRuns: RUNS * 2, ...(SEED === undefined ? {} : { seed: SEED }) },
    );
  });

  it('leaves every service serving', async () => {
    for (const [key, c] of clients) {
      const a = await c.unary('/grpc.health.v1.Health/Check', new Uint8Array(), 5000);
      expect(a.code, key).toBe(grpc.status.OK);
    }
  });
});
