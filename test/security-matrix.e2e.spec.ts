/**
 * The negative matrix (issue 15): every RPC of every service × {no certificate, a certificate of
 * another CA, an expired certificate, each service identity, a client, an operator}, on one stack
 * of real processes with mutual TLS. Exactly the cells BERTH_RPC_POLICY allows get past the
 * interceptor (they may still fail, with a non-auth code, on the empty request); the others are
 * PERMISSION_DENIED, or UNAVAILABLE when the TLS handshake itself is refused. Every refused call
 * changes nothing: the services' event logs and inventory's read model are compared before and after.
 * A client of another project is the projects work's column (test/security-projects*.e2e.spec.ts):
 * add it to COLUMNS with its expectation once a project binding can be made here.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromBinary } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inventoryV1 } from '@berth/contracts';
import {
  BERTH_RPC_POLICY,
  callUnary,
  defaultDescriptorSetPath,
  ensurePki,
  parseIdentity,
  roleAdmits,
  type ClientTls,
} from '@berth/grpc-kit';
import { createTestDatabase, type TestDatabase } from '@berth/testing';
import { readEventLog } from './harness/event-log.ts';
import { startService, type ServiceHandle } from './harness/service.ts';
import { startStack, type Stack } from './harness/stack.ts';
import { enableTestTls, identityTls, testPki } from './harness/tls.ts';

enableTestTls();

interface Rpc {
  readonly name: string;
  readonly path: string;
  readonly service: 'inventory' | 'scheduler' | 'executor' | 'migration' | 'telemetry';
  readonly clientStreaming: boolean;
  readonly serverStreaming: boolean;
}

const SERVICE_OF: Record<string, Rpc['service']> = {
  'berth.inventory.v1': 'inventory',
  'berth.scheduler.v1': 'scheduler',
  'berth.executor.v1': 'executor',
  'berth.migration.v1': 'migration',
  'berth.telemetry.v1': 'telemetry',
};

function allRpcs(): Rpc[] {
  const set = fromBinary(FileDescriptorSetSchema, readFileSync(defaultDescriptorSetPath()));
  return set.file
    .filter((f) => f.package !== 'berth.testing.v1')
    .flatMap((f) =>
      f.service.flatMap((s) =>
        s.method.map((m) => ({
          name: `${f.package}.${s.name}/${m.name}`,
          path: `/${f.package}.${s.name}/${m.name}`,
          // Health and reflection: asked of inventory (every server runs the same kit code).
          service: SERVICE_OF[f.package] ?? 'inventory',
          clientStreaming: m.clientStreaming === true,
          serverStreaming: m.serverStreaming === true,
        })),
      ),
    );
}

interface Outcome {
  readonly code: grpc.status;
  readonly details: string;
}

/** Calls any RPC with an empty request (all fields default) and returns its status. */
function call(client: grpc.Client, rpc: Rpc): Promise<Outcome> {
  const ser = (): Buffer => Buffer.alloc(0);
  const de = (b: Buffer): Buffer => b;
  const deadline = Date.now() + 8000;
  return new Promise((resolve) => {
    const done = (code: grpc.status, details = ''): void => resolve({ code, details });
    if (!rpc.serverStreaming && !rpc.clientStreaming) {
      client.makeUnaryRequest(rpc.path, ser, de, Buffer.alloc(0), new grpc.Metadata(), { deadline }, (err) =>
        err ? done(err.code, err.details) : done(grpc.status.OK),
      );
      return;
    }
    const bidi = rpc.clientStreaming ? client.makeBidiStreamRequest(rpc.path, ser, de, new grpc.Metadata(), { deadline }) : undefined;
    const stream = bidi ?? client.makeServerStreamRequest(rpc.path, ser, de, Buffer.alloc(0), new grpc.Metadata(), { deadline });
    stream.on('data', () => {
      stream.cancel();
      done(grpc.status.OK);
    });
    stream.on('error', (err: grpc.ServiceError) => done(err.code, err.details));
    stream.on('end', () => done(grpc.status.OK));
    if (bidi) {
      bidi.write(Buffer.alloc(0));
      bidi.end();
    }
  });
}

interface Column {
  readonly label: string;
  readonly tls: ClientTls;
  /** The identity the certificate carries, when the handshake can succeed. */
  readonly identity?: string;
}

const SERVICES = ['inventory', 'scheduler', 'placement-executor', 'migration', 'telemetry'] as const;

describe('authorisation matrix: every RPC × every kind of caller, mutual TLS', () => {
  let stack: Stack;
  let migration: ServiceHandle;
  let telemetry: ServiceHandle;
  let dbs: TestDatabase[] = [];
  let columns: Column[];
  const rpcs = allRpcs();

  beforeAll(async () => {
    const ca = readFileSync(testPki().caCert);
    const rogue = ensurePki(mkdtempSync(join(tmpdir(), 'berth-rogue-pki-')), 'Rogue CA').issue('operator', 'alice');
    const expired = testPki().issue('operator', 'alice', { days: -1, fileStem: 'operator-alice-expired' });
    const read = (f: { cert: string; key: string }): ClientTls => ({ cert: readFileSync(f.cert), key: readFileSync(f.key), ca });
    columns = [
      { label: 'no certificate', tls: { ca } },
      { label: 'another CA', tls: read(rogue) },
      { label: 'expired', tls: read(expired) },
      ...SERVICES.map((s) => ({ label: `service ${s}`, tls: identityTls('service', s), identity: `spiffe://berth/service/${s}` })),
      { label: 'client', tls: identityTls('client', 'acme'), identity: 'spiffe://berth/client/acme' },
      { label: 'operator', tls: identityTls('operator', 'alice'), identity: 'spiffe://berth/operator/alice' },
    ];
    stack = await startStack('e2e_secmatrix');
    dbs = await Promise.all([createTestDatabase('e2e_secmatrix_mig'), createTestDatabase('e2e_secmatrix_tel')]);
    [migration, telemetry] = await Promise.all([
      startService('migration', {
        DATABASE_URL: dbs[0]!.url,
        NATS_PREFIX: stack.prefix,
        INVENTORY_ADDR: stack.services.inventory.address,
        SCHEDULER_ADDR: stack.services.scheduler.address,
      }),
      startService('telemetry', { DATABASE_URL: dbs[1]!.url, NATS_PREFIX: stack.prefix }),
    ]);
    // Something to protect: a host and a VM in inventory's log.
    await callUnary(
      stack.inventory,
      'registerHost',
      inventoryV1.RegisterHostRequest.fromPartial({
        meta: { commandId: 'matrix-host' },
        hostId: 'h1',
        spec: { name: 'h1', hypervisorUri: 'sim://h1', cpus: 8, memoryBytes: 16 * 1024 ** 3 },
      }),
    );
  });

  afterAll(async () => {
    await Promise.all([migration?.stop(), telemetry?.stop()]);
    await stack?.stop();
    await Promise.all(dbs.map((d) => d.drop()));
  });

  const address = (rpc: Rpc): string =>
    ({
      inventory: stack.services.inventory.address,
      scheduler: stack.services.scheduler.address,
      executor: stack.services.executor.address,
      migration: migration.address,
      telemetry: telemetry.address,
    })[rpc.service];

  const allowed = (rpc: Rpc, column: Column): boolean => {
    const caller = column.identity ? parseIdentity(column.identity) : undefined;
    return caller !== undefined && (BERTH_RPC_POLICY[rpc.name] ?? []).some((r) => roleAdmits(r, caller));
  };

  async function runCells(cells: { rpc: Rpc; column: Column }[]): Promise<{ rpc: Rpc; column: Column; outcome: Outcome }[]> {
    const clients = new Map<string, grpc.Client>();
    const clientFor = (rpc: Rpc, column: Column): grpc.Client => {
      const key = `${column.label}@${rpc.service}`;
      let c = clients.get(key);
      if (!c) {
        const t = column.tls;
        c = new grpc.Client(
          address(rpc),
          grpc.credentials.createSsl(t.ca as Buffer, (t.key as Buffer) ?? null, (t.cert as Buffer) ?? null),
        );
        clients.set(key, c);
      }
      return c;
    };
    try {
      return await Promise.all(cells.map(async (cell) => ({ ...cell, outcome: await call(clientFor(cell.rpc, cell.column), cell.rpc) })));
    } finally {
      clients.forEach((c) => c.close());
    }
  }

  async function logs(): Promise<unknown> {
    const read = async (url: string): Promise<unknown> => readEventLog(url).catch((e: unknown) => `no log: ${String(e)}`);
    const [inv, exe, mig, tel] = await Promise.all([stack.inventoryDb.url, stack.executorDb.url, dbs[0]!.url, dbs[1]!.url].map(read));
    const vms = await callUnary(stack.inventory, 'listVms', inventoryV1.ListVmsRequest.fromPartial({}));
    const hosts = await callUnary(stack.inventory, 'listHosts', inventoryV1.ListHostsRequest.fromPartial({}));
    return { inv, exe, mig, tel, vms, hosts };
  }

  it('walks every RPC in the table', () => {
    expect(rpcs.length).toBeGreaterThan(50);
    expect(rpcs.filter((r) => !(r.name in BERTH_RPC_POLICY)).map((r) => r.name)).toEqual([]);
  });

  it('refused cells are PERMISSION_DENIED (or refused at the handshake) and change nothing', async () => {
    const cells = rpcs.flatMap((rpc) => columns.filter((column) => !allowed(rpc, column)).map((column) => ({ rpc, column })));
    const before = await logs();
    const results = await runCells(cells);
    const wrong = results
      .map(({ rpc, column, outcome }) => {
        const expected = column.identity ? grpc.status.PERMISSION_DENIED : grpc.status.UNAVAILABLE;
        return outcome.code === expected ? undefined : `${rpc.name} × ${column.label}: ${grpc.status[outcome.code]} ${outcome.details}`;
      })
      .filter((w) => w !== undefined);
    expect(wrong).toEqual([]);
    expect(results.length).toBeGreaterThan(300);
    expect(await logs()).toEqual(before);
  });

  it('allowed cells get past the interceptor (any non-auth answer to an empty request)', async () => {
    const cells = rpcs.flatMap((rpc) => columns.filter((column) => allowed(rpc, column)).map((column) => ({ rpc, column })));
    const results = await runCells(cells);
    const wrong = results
      .filter(
        ({ outcome }) =>
          outcome.code === grpc.status.UNAUTHENTICATED ||
          outcome.code === grpc.status.UNAVAILABLE ||
          (outcome.code === grpc.status.PERMISSION_DENIED && /may not call|authorisation table/.test(outcome.details)),
      )
      .map(({ rpc, column, outcome }) => `${rpc.name} × ${column.label}: ${grpc.status[outcome.code]} ${outcome.details}`);
    expect(wrong).toEqual([]);
    expect(results.length).toBeGreaterThan(80);
  });
});
