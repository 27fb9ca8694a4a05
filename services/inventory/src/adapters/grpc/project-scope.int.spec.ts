import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import {
  callServerStream,
  callUnary,
  createClient,
  createGrpcServer,
  GrpcStatus,
  isServiceError,
  type GrpcServer,
  type UnaryMethodName,
} from '@berth/grpc-kit';
import { createLogger } from '@berth/observability';
import {
  connectTestNats,
  createTestDatabase,
  deletePrefixedStreams,
  infraAvailable,
  natsUrl,
  testSubjectPrefix,
  type TestDatabase,
} from '@berth/testing';
import { inventoryV1 as pb } from '@berth/contracts';
import type { NatsConnection } from '@nats-io/transport-node';
import { startInventory, type RunningInventory } from '../../service.ts';
import { inventoryService } from './service.ts';
import { vmSpecMsg } from '../../testing/grpc-client.ts';

type Client = InstanceType<typeof pb.InventoryServiceClient>;

/** A CA, a server certificate and client certificates carrying Berth identities (URI SANs), made with openssl. */
function makePki(identities: Record<string, string>) {
  const dir = mkdtempSync(join(tmpdir(), 'berth-projects-pki-'));
  const at = (n: string) => join(dir, n);
  const openssl = (...args: string[]) => void execFileSync('openssl', args, { stdio: 'pipe' });
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=ca', '-keyout', at('ca.key'), '-out', at('ca.crt'));
  const leaf = (name: string, ext: string) => {
    writeFileSync(at(`${name}.ext`), ext);
    openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`, '-keyout', at(`${name}.key`), '-out', at(`${name}.csr`));
    openssl(
      'x509',
      '-req',
      '-in',
      at(`${name}.csr`),
      '-CA',
      at('ca.crt'),
      '-CAkey',
      at('ca.key'),
      '-CAcreateserial',
      '-days',
      '1',
      '-extfile',
      at(`${name}.ext`),
      '-out',
      at(`${name}.crt`),
    );
    return { cert: readFileSync(at(`${name}.crt`)), key: readFileSync(at(`${name}.key`)) };
  };
  const server = leaf('server', 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  const clients = Object.fromEntries(
    Object.entries(identities).map(([name, uri]) => [name, leaf(name, `subjectAltName=URI:${uri}\nextendedKeyUsage=clientAuth\n`)]),
  );
  return { ca: readFileSync(at('ca.crt')), server, clients, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

describe.skipIf(!(await infraAvailable('postgres', 'nats')))('a client sees and acts only on its projects (mutual TLS identities)', () => {
  let tdb: TestDatabase;
  let inv: RunningInventory;
  let nc: NatsConnection;
  let server: GrpcServer;
  let pki: ReturnType<typeof makePki>;
  const clients: Record<string, Client> = {};
  const prefix = testSubjectPrefix('invscope');

  beforeAll(async () => {
    pki = makePki({ acme: 'spiffe://berth/client/acme', globex: 'spiffe://berth/client/globex', alice: 'spiffe://berth/operator/alice' });
    tdb = await createTestDatabase('inventory_project_scope');
    inv = await startInventory(
      {
        DATABASE_URL: tdb.url,
        NATS_URL: natsUrl(),
        NATS_PREFIX: prefix,
        INVENTORY_GRPC_PORT: 0,
        INVENTORY_MAX_PROVISION_ATTEMPTS: 2,
        INVENTORY_CAPACITY_SWEEP: 1000,
        INVENTORY_SNAPSHOT_CLAIM_LINGER: 1000,
      },
      createLogger('inventory-scope-test'),
    );
    nc = await connectTestNats();
    // The inventory's own handlers behind a server that requires client certificates.
    server = createGrpcServer({
      serviceName: 'inventory-mtls',
      services: [
        {
          definition: pb.InventoryServiceService,
          implementation: inventoryService({
            hosts: inv.hosts,
            vms: inv.vms,
            claims: inv.claims,
            projects: inv.projects,
            readModel: inv.readModel,
          }),
        },
      ],
      readiness: async () => true,
      logger: createLogger('inventory-scope-test'),
      tls: { cert: pki.server.cert, key: pki.server.key, ca: pki.ca, requireClientCert: true },
    });
    const port = await server.listen(0, '127.0.0.1');
    for (const [name, pair] of Object.entries(pki.clients))
      clients[name] = createClient(pb.InventoryServiceClient, `127.0.0.1:${port}`, {
        deadlineMillis: 10_000,
        tls: { ca: pki.ca, ...pair },
      });
  });

  afterAll(async () => {
    for (const c of Object.values(clients)) c.close();
    await server?.shutdown(0, 1000);
    await inv?.stop();
    if (nc) {
      await deletePrefixedStreams(prefix, nc); // the streams and buckets this file created under its prefix
      await nc.close();
    }
    await tdb?.drop();
    pki?.remove();
  });

  const as =
    (who: string) =>
    <K extends UnaryMethodName<Client>>(method: K, request: Parameters<Client[K]>[0]) =>
      callUnary(clients[who]!, method, request as never);
  const meta = () => ({ commandId: crypto.randomUUID() });
  const code = async (p: Promise<unknown>): Promise<number> => {
    const err = await p.then(
      () => undefined,
      (e: unknown) => e,
    );
    if (!isServiceError(err)) throw new Error(`expected a gRPC error, got ${JSON.stringify(err)}`);
    return err.code;
  };
  const eventCount = async () => Number((await sql<{ n: string }>`SELECT count(*) AS n FROM events`.execute(inv.db)).rows[0]!.n);

  it('hides project B’s VMs from a client of project A (get, list, watch, delete, start, stop: NOT_FOUND), changing nothing', async () => {
    const alice = as('alice');
    await alice('createProject', { meta: meta(), name: 'proj-a', description: '' });
    await alice('createProject', { meta: meta(), name: 'proj-b', description: '' });
    await alice('bindIdentity', { meta: meta(), identity: 'spiffe://berth/client/acme', project: 'proj-a' });
    await alice('bindIdentity', { meta: meta(), identity: 'spiffe://berth/client/globex', project: 'proj-b' });
    const acme = as('acme');
    const globex = as('globex');
    const a1 = (await acme('composeVm', { meta: meta(), vmId: 'a-1', spec: vmSpecMsg({ name: 'a-1', disks: [] }) })).vm!;
    expect(a1.project).toBe('proj-a');
    await globex('composeVm', { meta: meta(), vmId: 'b-1', spec: vmSpecMsg({ name: 'b-1', disks: [] }) });
    await expect.poll(async () => (await alice('listVms', { hostId: '', status: 0 })).vms.length, { timeout: 10_000 }).toBe(2);

    const before = await eventCount();
    expect(await code(acme('getVm', { vmId: 'b-1' }))).toBe(GrpcStatus.NOT_FOUND);
    expect(await code(acme('deleteVm', { meta: meta(), vmId: 'b-1' }))).toBe(GrpcStatus.NOT_FOUND);
    expect(await code(acme('startVm', { meta: meta(), vmId: 'b-1' }))).toBe(GrpcStatus.NOT_FOUND);
    expect(await code(acme('stopVm', { meta: meta(), vmId: 'b-1', force: true }))).toBe(GrpcStatus.NOT_FOUND);
    expect(await code(acme('rebootVm', { meta: meta(), vmId: 'b-1' }))).toBe(GrpcStatus.NOT_FOUND);
    expect(await code(acme('getProject', { name: 'proj-b' }))).toBe(GrpcStatus.NOT_FOUND);
    const watch = async () => {
      for await (const _ of callServerStream(clients['acme']!, 'watchVm', { vmId: 'b-1', fromPosition: 0 })) return;
    };
    expect(await code(watch())).toBe(GrpcStatus.NOT_FOUND);
    // Composing into another project, or managing projects, is refused outright.
    expect(
      await code(acme('composeVm', { meta: meta(), vmId: 'a-2', project: 'proj-b', spec: vmSpecMsg({ name: 'a-2', disks: [] }) })),
    ).toBe(GrpcStatus.PERMISSION_DENIED);
    expect(await code(acme('bindIdentity', { meta: meta(), identity: 'spiffe://berth/client/acme', project: 'proj-b' }))).toBe(
      GrpcStatus.PERMISSION_DENIED,
    );
    expect(await code(acme('setProjectQuota', { meta: meta(), name: 'proj-a', quota: { devices: {} } }))).toBe(
      GrpcStatus.PERMISSION_DENIED,
    );
    expect(await eventCount()).toBe(before);

    expect((await acme('listVms', { hostId: '', status: 0 })).vms.map((v) => v.vmId)).toEqual(['a-1']);
    expect((await globex('listVms', { hostId: '', status: 0 })).vms.map((v) => v.vmId)).toEqual(['b-1']);
    expect((await acme('listProjects', {})).projects.map((p) => p.name)).toEqual(['proj-a']);
    // The operator sees both, and the client its own VM and project.
    expect((await alice('getVm', { vmId: 'b-1' })).vm?.project).toBe('proj-b');
    expect((await acme('getVm', { vmId: 'a-1' })).vm?.vmId).toBe('a-1');
    await acme('deleteVm', { meta: meta(), vmId: 'a-1' });
    expect((await acme('getProject', { name: 'proj-a' })).project?.usage?.vms).toBe(0);
  });
});
