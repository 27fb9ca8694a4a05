import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { decodeEvent, type EventCatalog } from './catalog.ts';
import { eventCatalog, objectOf } from './index.ts';

/** The keys of `interface <name> { … }` in a contracts source file: the event types it declares. */
function eventMapKeys(file: string, name: string): string[] {
  const text = readFileSync(new URL(`../${file}`, import.meta.url), 'utf8');
  const body = new RegExp(`export interface ${name} \\{([^}]*)\\}`).exec(text)?.[1];
  if (body === undefined) throw new Error(`${name} not found in ${file}`);
  return [...body.matchAll(/^\s*(\w+):/gm)].map((m) => m[1]!);
}

describe('the event catalog', () => {
  it.each([
    ['inventory', [['inventory.ts', 'InventoryEventMap']], 10],
    ['executor', [['executor.ts', 'ExecutorEventMap']], 10],
    [
      'migration',
      [
        ['migration.ts', 'MigrationEventMap'],
        ['evacuation.ts', 'EvacuationEventMap'],
        ['evacuation.ts', 'BalancerEventMap'],
      ],
      25,
    ],
    ['telemetry', [['telemetry.ts', 'TelemetryEventMap']], 2],
  ] as const)('has a versioned schema for every %s event type in contracts', (service, maps, atLeast) => {
    const declared = maps.flatMap(([file, map]) => eventMapKeys(file, map));
    expect(declared.length).toBeGreaterThan(atLeast);
    const defs = eventCatalog[service]!;
    expect(Object.keys(defs).sort()).toEqual([...declared].sort());
    for (const type of declared) {
      expect(Number.isInteger(defs[type]!.version) && defs[type]!.version >= 1, `${type} version`).toBe(true);
      // A schema that accepts anything would make the edge check worthless.
      const r = defs[type]!.schema.safeParse(42);
      expect(r.success, `${type} refuses a number`).toBe(false);
    }
  });

  it('names the field and the reason of what it refuses', () => {
    const r = decodeEvent(eventCatalog, 'inventory', 'VmStopRequested', 1, { hostId: 'h1', hypervisorUri: 'u', force: 'yes' });
    expect(r).toEqual({ ok: false, reason: expect.stringMatching(/^invalid VmStopRequested v1 data: force: /) as string });
    expect(decodeEvent(eventCatalog, 'inventory', 'VmDeleted', 0, { reason: 'x' })).toMatchObject({ ok: false });
    expect(decodeEvent(eventCatalog, 'inventory', 'VmDeleted', 2, { reason: 'x' })).toMatchObject({
      ok: false,
      reason: 'unknown schema version 2 of VmDeleted (this consumer reads up to 1)',
    });
    expect(decodeEvent(eventCatalog, 'nobody', 'VmDeleted', 1, {})).toMatchObject({ ok: false, reason: 'unknown service "nobody"' });
    expect(decodeEvent(eventCatalog, 'inventory', 'toString', 1, {})).toMatchObject({
      ok: false,
      reason: 'unknown event type inventory/toString',
    });
  });

  it("keeps fields it does not know (a newer producer's additions pass through)", () => {
    const r = decodeEvent(eventCatalog, 'inventory', 'VmDeleted', 1, { reason: 'gone', project: 'p1' });
    expect(r).toEqual({ ok: true, type: 'VmDeleted', data: { reason: 'gone', project: 'p1' } });
  });

  it('upcasts through every version in order and then checks the current schema', () => {
    type V3 = { readonly name: string; readonly memoryBytes: number };
    const catalog: EventCatalog = {
      demo: {
        Sized: {
          version: 3,
          schema: objectOf<V3>()({ name: z.string().min(1), memoryBytes: z.number().int() }),
          upcasters: {
            // v1 had `mib`; v2 renamed it to `memoryMiB`; v3 counts bytes.
            1: (d) => {
              const { mib, ...rest } = d as { mib: number };
              return { ...rest, memoryMiB: mib };
            },
            2: (d) => {
              const { memoryMiB, ...rest } = d as { memoryMiB: number };
              return { ...rest, memoryBytes: memoryMiB * 1024 * 1024 };
            },
          },
        },
        Broken: { version: 2, schema: z.object({}) },
      },
    };
    expect(decodeEvent(catalog, 'demo', 'Sized', 1, { name: 'a', mib: 2 })).toEqual({
      ok: true,
      type: 'Sized',
      data: { name: 'a', memoryBytes: 2 * 1024 * 1024 },
      upcastFrom: 1,
    });
    expect(decodeEvent(catalog, 'demo', 'Sized', 2, { name: 'a', memoryMiB: 1 })).toMatchObject({ ok: true, upcastFrom: 2 });
    expect(decodeEvent(catalog, 'demo', 'Sized', 3, { name: 'a', memoryBytes: 5 })).toEqual({
      ok: true,
      type: 'Sized',
      data: { name: 'a', memoryBytes: 5 },
    });
    expect(decodeEvent(catalog, 'demo', 'Sized', 1, { name: '', mib: 1 })).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/name/) as string,
    });
    expect(decodeEvent(catalog, 'demo', 'Broken', 1, {})).toMatchObject({
      ok: false,
      reason: 'no upcaster from version 1 of Broken (current 2)',
    });
  });
});

describe("the migration service's evacuation and balancer events", () => {
  const at = '2026-12-06T08:00:00.000Z';
  it('reads what the service records', () => {
    const started = {
      evacuationId: 'h1#1',
      hostId: 'h1',
      trigger: 'operator',
      previousState: 'enabled',
      vmCount: 2,
      totalMemoryBytes: 2 ** 31,
      warnings: [{ vmId: 'v1', warning: 'high-performance or pinned VM' }],
      at,
    };
    expect(decodeEvent(eventCatalog, 'migration', 'EvacuationStarted', 1, started)).toEqual({
      ok: true,
      type: 'EvacuationStarted',
      data: started,
    });
    const waiting = { waiting: [{ vmId: '', kind: 'cap', reason: 'moves wait for a slot', remedies: [] }], nextRetryAt: at };
    expect(decodeEvent(eventCatalog, 'migration', 'EvacuationWaiting', 1, waiting)).toEqual({
      ok: true,
      type: 'EvacuationWaiting',
      data: waiting,
    });
    // A policy recorded before the pressure fields existed is still read.
    const policy = {
      pool: 'default',
      mode: 'spread',
      highThreshold: 0.8,
      lowThreshold: 0.2,
      windowSeconds: 120,
      maxMovesPerInterval: 1,
      intervalSeconds: 60,
      minImprovement: 0.2,
      cooldownSeconds: 21600,
    };
    expect(decodeEvent(eventCatalog, 'migration', 'BalancerPolicySet', 1, { policy, at })).toMatchObject({ ok: true });
    const run = { at, summary: 'moved 1', moves: [{ vmId: 'v', from: 'a', to: 'b', migrationId: 'm', improvement: 0.3, reason: 'r' }] };
    expect(decodeEvent(eventCatalog, 'migration', 'BalancerRunRecorded', 1, run)).toMatchObject({ ok: true });
  });

  it('refuses bad data naming the field', () => {
    expect(decodeEvent(eventCatalog, 'migration', 'EvacuationCancelled', 1, { restoredState: 'asleep', at })).toEqual({
      ok: false,
      reason: expect.stringMatching(/^invalid EvacuationCancelled v1 data: restoredState: /) as string,
    });
    expect(
      decodeEvent(eventCatalog, 'migration', 'EvacuationMoveEnded', 1, { vmId: 'v', migrationId: 'm', outcome: 'lost', reason: '', at }),
    ).toMatchObject({ ok: false, reason: expect.stringMatching(/outcome/) as string });
    expect(decodeEvent(eventCatalog, 'migration', 'BalancerRunRecorded', 1, { at, trigger: 'cron', summary: '', moves: [] })).toMatchObject(
      {
        ok: false,
        reason: expect.stringMatching(/trigger/) as string,
      },
    );
  });
});
