/**
 * decodeEvent checks data with each schema's compiled form (z.compile). These cases hold it to zod's
 * own parser: on bodies as the services write them and on every one-field mutation of them, the
 * answer (accepted or not), the data handed on (values and key order) and the refusal's reason are
 * those of `schema.safeParse`.
 */
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { decodeEvent } from './catalog.ts';
import { eventCatalog } from './index.ts';

const GiB = 1024 ** 3;
const spec = {
  vmId: 'vm-1',
  name: 'vm-1',
  vcpus: 2,
  memoryBytes: 2 * GiB,
  disks: [{ sizeBytes: 10 * GiB, pool: 'default' }],
  devices: [{ type: 'nvidia-gpu', count: 1 }],
  nics: [{ network: { space: 'prod', vlan: 12, ip: '10.0.0.5' }, sriov: false }],
  numaNodes: [{ vcpus: 2, memoryBytes: 2 * GiB, pinnedHostNode: 0 }],
  cpuPolicy: 'dedicated',
  hugepageSizeBytes: 2 * 1024 * 1024,
  passthroughCpu: false,
  highPerformance: true,
  topology: { sockets: 1, coresPerSocket: 2, threadsPerCore: 1 },
  slaTier: 'gold',
  priority: 0,
  tags: ['a'],
  allowedHosts: [],
  affinity: [{ group: 'g', polarity: 'anti-affinity', target: 'vm', enforcement: 'soft', hosts: [] }],
  migrationMode: 'manual-and-automatic',
};
const claim = {
  vmId: 'vm-1',
  hostId: 'h1',
  vcpus: 2,
  memoryBytes: 2 * GiB,
  pinnedCpus: [2, 3],
  numaCells: [{ guestCell: 0, hostNode: 0, cpus: [2, 3], memoryBytes: 2 * GiB, vcpus: 2 }],
  hugepages: [{ numaNode: 0, pageSizeBytes: 2 * 1024 * 1024, count: 1024 }],
  devices: [{ type: 'nvidia-gpu', address: '0000:3b:00.0', numaNode: 0 }],
  vfs: [{ nic: 'eth1', count: 1 }],
  volumes: [{ diskIndex: 0, pool: 'default', sizeBytes: 10 * GiB }],
  affinityGroups: ['g'],
};
const capacity = {
  hostId: 'h1',
  name: 'h1',
  state: 'enabled',
  resourcePool: 'default',
  tags: [],
  cpuModel: 'Cascadelake-Server',
  topology: { sockets: 1, coresPerSocket: 4, threadsPerCore: 1 },
  cpus: 4,
  memoryBytes: 16 * GiB,
  cpuOvercommit: 1,
  memoryOvercommit: 1.5,
  numaNodes: [{ id: 0, cpus: [0, 1, 2, 3], memoryBytes: 16 * GiB, hugepages: [{ pageSizeBytes: 2 * 1024 * 1024, total: 4096 }] }],
  sriovNics: [{ name: 'eth1', numaNode: 0, vfsTotal: 8, networks: [{ space: 'prod' }] }],
  pciDevices: [{ type: 'nvidia-gpu', address: '0000:3b:00.0', numaNode: 0 }],
  storagePools: [{ name: 'default', type: 'dir', path: '/var/lib/x', totalBytes: 500 * GiB, externalUsedBytes: 0, isDefault: true }],
  networks: [{ space: 'prod', subnet: '10.0.0.0/24' }],
};
const loc = { vmId: 'vm-1', hostId: 'h1', hypervisorUri: 'sim://h1', attempt: 1 };

/** [service, type, data] as the services write them. */
const bodies: readonly (readonly [string, string, Record<string, unknown>])[] = [
  [
    'inventory',
    'VmRequested',
    { vmId: 'vm-1', project: 'acme', spec, attempt: 1, excludedHosts: ['h9'], capacityDeadline: '2026-12-07T03:00:00.000Z' },
  ],
  [
    'inventory',
    'VmPlaced',
    {
      hostId: 'h1',
      hypervisorUri: 'sim://h1',
      spec,
      attempt: 1,
      claim,
      generation: 7,
      explanation: JSON.stringify({ summary: 'vm-1 goes to h1' }),
      alternates: [{ hostId: 'h2', generation: 3 }],
    },
  ],
  [
    'inventory',
    'HostRegistered',
    { capacity, hypervisorUri: 'sim://h1', addressTranslation: { address: '10.1.1.1', basePort: 5900 }, hostId: 'h1' },
  ],
  ['inventory', 'ResourcesClaimed', { claim, expectedGeneration: 6 }],
  [
    'inventory',
    'ProjectVmAdmitted',
    { project: 'acme', vmId: 'vm-1', usage: { vcpus: 2, memoryBytes: 2 * GiB, devices: { 'nvidia-gpu': 1 } } },
  ],
  [
    'inventory',
    'VmPlacementDeferred',
    {
      reason: 'no room',
      explanation: { filters: [] },
      until: '2026-12-07T03:00:00Z',
      viewPosition: { transactionId: '12', position: '40' },
    },
  ],
  [
    'inventory',
    'HardwareConfigApplied',
    { config: { costFunctions: { c: { id: 'c', points: [] } }, profiles: { p: { id: 'p' } }, realm: { name: 'r' } }, source: 'file' },
  ],
  [
    'executor',
    'DomainProvisioningStarted',
    {
      ...loc,
      domainName: 'berth-vm-1',
      domainUuid: '3f0e8e3c-1b7e-5c1e-9a4e-0d6c8b1b2a11',
      registrationDeadline: '2026-12-07T03:01:00.000Z',
    },
  ],
  ['executor', 'VmStarted', { ...loc, cause: 'provisioned' }],
  ['executor', 'DomainDeleted', { vmId: 'vm-1', reason: 'deleted' }],
  [
    'executor',
    'VmMigrationProgressed',
    {
      ...loc,
      migrationId: 'm1',
      migrationAttempt: 1,
      cold: true,
      dataTotalBytes: 10,
      dataProcessedBytes: 5,
      dataRemainingBytes: 5,
      elapsedMillis: 1000,
      phase: 'precopy',
    },
  ],
];

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
/** One-field mutations: each member removed, replaced by values of other types and edge values, an unknown member and an own `__proto__` added to each object. */
function* mutations(value: Json): Generator<Json> {
  const odd: Json[] = [null, '', 'x', '2026-13-45', -1, 0, 1.5, 2 ** 60, true, [], {}, [1], { id: '' }];
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) for (const m of mutations(value[i]!)) yield value.map((v, j) => (j === i ? m : v));
    yield [...value, 'extra'];
    return;
  }
  if (value !== null && typeof value === 'object') {
    for (const k of Object.keys(value)) {
      const { [k]: _gone, ...rest } = value;
      yield rest;
      for (const m of mutations(value[k]!)) yield { ...value, [k]: m };
    }
    yield { ...value, extraField: 1 };
    yield { ...value, ...(JSON.parse('{"__proto__": {"polluted": true}}') as Record<string, Json>) };
    return;
  }
  yield* odd;
}

const describeIssues = (error: z.ZodError): string =>
  error.issues
    .slice(0, 5)
    .map((i) => `${i.path.length === 0 ? '(data)' : i.path.join('.')}: ${i.message}`)
    .join('; ');

describe("decodeEvent's compiled schemas", () => {
  it.each(bodies)('answer as zod does for %s %s and every one-field mutation of it', (service, type, body) => {
    const def = eventCatalog[service]![type]!;
    let accepted = 0;
    let refused = 0;
    for (const data of [body as Json, ...mutations(body as Json)]) {
      const expected = def.schema.safeParse(data);
      const got = decodeEvent(eventCatalog, service, type, def.version, data);
      if (expected.success) {
        accepted++;
        expect(got.ok, JSON.stringify(data)).toBe(true);
        if (!got.ok) continue;
        // The same values in the same order, and no own __proto__ (JSON.stringify writes own keys in order).
        expect(JSON.stringify(got.data)).toBe(JSON.stringify(expected.data));
        expect(got.data).toEqual(expected.data);
      } else {
        refused++;
        expect(got).toEqual({ ok: false, reason: `invalid ${type} v${def.version} data: ${describeIssues(expected.error)}` });
      }
    }
    expect(accepted).toBeGreaterThan(1);
    expect(refused).toBeGreaterThan(1);
  });
});
