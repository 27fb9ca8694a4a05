import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { envelopeBody, parseEnvelope } from './envelope.ts';
import { bucketName, eventSubject, projectOfSubject, streamName, streamTypeOf, subjectName, typeSubjects } from './names.ts';
import { parseNatsDefinitions, loadNatsDefinitions, consumerDefinition } from './definitions.ts';
import { Progress } from './process.ts';

const thrown = (f: () => unknown): unknown => {
  try {
    f();
  } catch (e) {
    return e;
  }
  return undefined;
};
const enc = (s: string) => new TextEncoder().encode(s);
const valid = {
  id: 'e1',
  type: 'VmRequested',
  schemaVersion: 1,
  streamId: 'vm-1',
  streamPosition: 1,
  globalPosition: '17',
  occurredAt: '2026-01-01T00:00:00.000Z',
  data: { vcpus: 2 },
};

describe('parseEnvelope', () => {
  it('accepts a valid envelope and round-trips envelopeBody without metadata', () => {
    const body = envelopeBody({ ...valid, commandId: 'c1', metadata: { traceparent: 'x' } } as typeof valid & { commandId: string });
    const r = parseEnvelope(body);
    expect(r).toEqual({ ok: true, envelope: { ...valid, commandId: 'c1' } });
  });

  it("carries the producing transaction id (the event's log position with globalPosition) when the event has one", () => {
    const r = parseEnvelope(envelopeBody({ ...valid, transactionId: '7781' }));
    expect(r).toEqual({ ok: true, envelope: { ...valid, transactionId: '7781' } });
    expect(parseEnvelope(enc(JSON.stringify({ ...valid, transactionId: 12 })))).toMatchObject({
      ok: false,
      reason: expect.stringContaining('transactionId must be a decimal string'),
    });
  });

  it('calls unparseable bytes and invalid UTF-8 poison', () => {
    expect(parseEnvelope(enc('{nope'))).toMatchObject({ ok: false, reason: expect.stringMatching(/^unparseable JSON/) });
    expect(parseEnvelope(new Uint8Array([0xff, 0xfe]))).toMatchObject({ ok: false, reason: expect.stringMatching(/^unparseable JSON/) });
  });

  it('names every invalid field', () => {
    const r = parseEnvelope(enc(JSON.stringify({ ...valid, id: '', schemaVersion: 0, streamPosition: 1.5, data: undefined })));
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.reason).toContain('id must be a non-empty string');
    expect(r.reason).toContain('schemaVersion must be an integer >= 1');
    expect(r.reason).toContain('streamPosition must be an integer >= 1');
    expect(r.reason).toContain('data is missing');
    expect(parseEnvelope(enc('[1]'))).toMatchObject({ ok: false, reason: 'invalid envelope: body must be a JSON object' });
  });
});

describe('envelopeBody with dataJson', () => {
  const head = {
    id: 'e1',
    type: 'VmRequested',
    schemaVersion: 1,
    streamId: 'vm-1',
    streamPosition: 1,
    globalPosition: '17',
    occurredAt: '2026-01-01T00:00:00.000Z',
  };
  /** Postgres prints jsonb with `": "` and `", "`; any JSON text must do. */
  const forms = (v: unknown): string[] => [
    JSON.stringify(v),
    JSON.stringify(v, null, 2),
    JSON.stringify(v).replace(/,"/g, ', "').replace(/":/g, '": '),
  ];

  it('parses to the same envelope as the object form, for any JSON data and with or without a command id', () => {
    fc.assert(
      fc.property(fc.jsonValue({ stringUnit: 'grapheme' }), fc.option(fc.string(), { nil: undefined }), (value, commandId) => {
        const h = commandId === undefined ? head : { ...head, commandId };
        for (const dataJson of forms(value)) {
          const raw = envelopeBody(Object.assign({}, h, { dataJson, metadata: { traceparent: 'x' } }));
          const before = parseEnvelope(envelopeBody({ ...h, data: JSON.parse(dataJson) as unknown }));
          expect(parseEnvelope(raw)).toStrictEqual(before);
          expect(before.ok).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('keeps tricky data and the field order, and leaves metadata out', () => {
    const tricky =
      '{"q": "\\"\\\\", "u": "é😀\u2028", "c": "\\u0001", "n": [1000000000000000000000, 0.000001, 1.50], "e": {}, "a": [[], [{}]]}';
    const body = new TextDecoder().decode(
      envelopeBody(Object.assign({}, head, { commandId: 'c1', dataJson: tricky, metadata: { traceparent: 'x' } })),
    );
    expect(Object.keys(JSON.parse(body) as object)).toEqual([
      'id',
      'type',
      'schemaVersion',
      'streamId',
      'streamPosition',
      'globalPosition',
      'occurredAt',
      'commandId',
      'data',
    ]);
    expect(parseEnvelope(enc(body))).toStrictEqual({
      ok: true,
      envelope: { ...head, commandId: 'c1', data: JSON.parse(tricky) as unknown },
    });
    expect((JSON.parse(body) as { data: { n: number[] } }).data.n).toEqual([1e21, 1e-6, 1.5]);
  });
});

describe('names', () => {
  it('derives subjects from the service, the stream type and the event type', () => {
    expect(streamTypeOf('vm-7f3c-11')).toBe('vm');
    expect(streamTypeOf('host')).toBe('host');
    expect(eventSubject('inventory', 'host-h1', 'HostRegistered')).toBe('berth.inventory.host.HostRegistered');
    expect(eventSubject('executor', 'vm-7f3c', 'VmStarted', 'acme')).toBe('berth.executor.vm.VmStarted');
  });
  it("puts the project before the type in the subjects of inventory's VM and project streams", () => {
    expect(eventSubject('inventory', 'vm-7f3c', 'VmRequested', 'acme')).toBe('berth.inventory.vm.acme.VmRequested');
    expect(eventSubject('inventory', 'project-acme', 'ProjectCreated', 'acme')).toBe('berth.inventory.project.acme.ProjectCreated');
    // events recorded before projects belong to `default`
    expect(eventSubject('inventory', 'vm-7f3c', 'VmRequested')).toBe('berth.inventory.vm.default.VmRequested');
    expect(projectOfSubject('berth.inventory.vm.acme.VmPlaced')).toBe('acme');
    expect(projectOfSubject('berth.inventory.host.HostRegistered')).toBeUndefined();
    expect(projectOfSubject('berth.executor.vm.VmStarted')).toBeUndefined();
  });
  it('prefixes streams, subjects and buckets only when a prefix is given', () => {
    expect(streamName('BERTH_DLQ')).toBe('BERTH_DLQ');
    expect(streamName('BERTH_DLQ', 't_ab')).toBe('T_AB_BERTH_DLQ');
    expect(subjectName('berth.dlq.x', 't_ab')).toBe('t_ab.berth.dlq.x');
    expect(bucketName('berth-host-snapshots', 't_ab')).toBe('t_ab-berth-host-snapshots');
  });
});

describe('definitions', () => {
  it('loads infra/nats/streams.json with every service stream, the dead letters and the snapshot bucket', () => {
    const d = loadNatsDefinitions();
    expect(d.streams.map((s) => [s.name, s.subjects])).toEqual([
      ['BERTH_INVENTORY', ['berth.inventory.>']],
      ['BERTH_SCHEDULER', ['berth.scheduler.>']],
      ['BERTH_EXECUTOR', ['berth.executor.>']],
      ['BERTH_TELEMETRY', ['berth.telemetry.>']],
      ['BERTH_MIGRATION', ['berth.migration.>']],
      ['BERTH_DLQ', ['berth.dlq.>']],
    ]);
    expect(d.kv).toContainEqual(expect.objectContaining({ bucket: 'berth-host-snapshots', history: 1, persistMode: 'async' }));
    expect(consumerDefinition('scheduler-vm-requested').filterSubject).toBe('berth.inventory.vm.*.VmRequested');
  });
  it('rejects bad definitions naming each field', () => {
    expect(
      thrown(() =>
        parseNatsDefinitions({
          streams: [{ name: 'a.b', subjects: [], storage: 'disk', retention: 'limits', maxAgeMillis: -1, duplicateWindowMillis: 0 }],
          kv: [{ bucket: 'x', history: 0, storage: 'file', persistMode: 'lazy' }],
        }),
      ),
    ).toMatchObject({
      name: 'ValidationError',
      violations: [
        { field: 'streams[0].name', reason: expect.any(String) },
        { field: 'streams[0].subjects', reason: expect.any(String) },
        { field: 'streams[0].storage', reason: 'must be "file" or "memory"' },
        { field: 'streams[0].maxAgeMillis', reason: expect.any(String) },
        { field: 'streams[0].duplicateWindowMillis', reason: expect.any(String) },
        { field: 'kv[0].history', reason: 'must be 1..64' },
        { field: 'kv[0].persistMode', reason: 'must be "default" or "async" when present' },
      ],
    });
    expect(() => consumerDefinition('nope')).toThrow(/no consumer "nope"/);
  });
});

describe('Progress', () => {
  it('resumes at the lowest unfinished sequence, else after the highest finished one', () => {
    const p = new Progress();
    expect(p.resumeFrom()).toBeUndefined();
    [5, 6, 7].forEach((s) => p.received(s));
    p.finished(5);
    p.finished(7);
    expect(p.resumeFrom()).toBe(6);
    p.finished(6);
    expect(p.resumeFrom()).toBe(8);
  });
});

describe('typeSubjects', () => {
  it('names the subject of each type under a berth.<service>[.<streamType>].> filter, else nothing', () => {
    expect(typeSubjects('berth.inventory.vm.>', ['VmPlaced', 'VmDeleteRequested'])).toEqual([
      'berth.inventory.vm.*.VmPlaced',
      'berth.inventory.vm.*.VmDeleteRequested',
    ]);
    expect(typeSubjects('berth.inventory.host.>', ['HostRegistered'])).toEqual(['berth.inventory.host.HostRegistered']);
    expect(typeSubjects('berth.executor.>', ['VmStarted'])).toEqual(['berth.executor.*.VmStarted']);
    expect(typeSubjects('berth.executor.vm.>', ['VmStarted'])).toEqual(['berth.executor.vm.VmStarted']);
    // both shapes of inventory's subjects (with and without a project token)
    expect(typeSubjects('berth.inventory.>', ['VmPlaced'])).toEqual(['berth.inventory.*.VmPlaced', 'berth.inventory.*.*.VmPlaced']);
    expect(typeSubjects('berth.inventory.vm.*.VmRequested', ['VmRequested'])).toBeUndefined();
    expect(typeSubjects('other.inventory.>', ['X'])).toBeUndefined();
    expect(typeSubjects('berth.>', ['X'])).toBeUndefined();
  });
});
