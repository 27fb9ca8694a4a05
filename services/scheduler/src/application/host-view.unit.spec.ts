import { describe, expect, it } from 'vitest';
import { DecisionLog } from './decision-log.ts';
import { deterministicUuid } from './command-id.ts';
import { HostView } from './host-view.ts';
import { host } from './testing/fakes.ts';

describe('HostView', () => {
  it('never replaces a newer generation with an older one', () => {
    const view = new HostView();
    expect(view.upsert(host('h1', 8, 5))).toBe(true);
    expect(view.upsert(host('h1', 4, 3))).toBe(false);
    expect(view.get('h1')?.capacity.cpus).toBe(8);
    expect(view.upsert(host('h1', 4, 6))).toBe(true);
    expect(view.get('h1')?.capacity.cpus).toBe(4);
  });

  it('lists hosts ordered by id whatever the arrival order, and forgets removed ones', () => {
    const view = new HostView();
    for (const id of ['h3', 'h1', 'h2']) view.upsert(host(id, 1));
    expect(view.all().map((h) => h.capacity.hostId)).toEqual(['h1', 'h2', 'h3']);
    view.remove('h2');
    expect(view.all().map((h) => h.capacity.hostId)).toEqual(['h1', 'h3']);
    expect(view.size).toBe(2);
  });
});

describe('DecisionLog', () => {
  it('keeps only the newest entries up to its capacity', () => {
    const log = new DecisionLog(2);
    for (const id of ['a', 'b', 'c']) log.record({ vmId: id, outcome: 'failed', explanation: '{}', attempts: 0, decidedAt: '' });
    log.record({ vmId: 'b', outcome: 'placed', explanation: '{}', attempts: 1, decidedAt: '' });
    log.record({ vmId: 'd', outcome: 'failed', explanation: '{}', attempts: 0, decidedAt: '' });
    expect(log.get('a')).toBeUndefined();
    expect(log.get('c')).toBeUndefined();
    expect(log.get('b')?.outcome).toBe('placed');
    expect(log.size).toBe(2);
  });
});

describe('deterministicUuid', () => {
  it('is a stable RFC 4122 v5-shaped id that differs per name', () => {
    const a = deterministicUuid('claim:evt:1');
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(deterministicUuid('claim:evt:1')).toBe(a);
    expect(deterministicUuid('claim:evt:2')).not.toBe(a);
  });
});
