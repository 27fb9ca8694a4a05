import { MsgHdrsImpl } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { BerthHeaders, eventHeaders, putHeader } from './publisher.ts';

const head = { id: 'e-1', type: 'VmPlaced', schemaVersion: 2, streamId: 'vm-1', streamPosition: 3, globalPosition: '7', occurredAt: '' };

/** The same headers made with nats.js's own append, as the publisher made them before. */
function viaAppend(pairs: [string, string][]): string {
  const h = new MsgHdrsImpl();
  for (const [k, v] of pairs) h.append(k, v);
  return h.toString();
}

describe('eventHeaders', () => {
  it("encodes as nats.js's append would, project last when there is one", () => {
    const withProject = eventHeaders({ ...head, project: 'acme' });
    expect(withProject.toString()).toBe(
      viaAppend([
        [BerthHeaders.msgId, 'e-1'],
        [BerthHeaders.eventType, 'VmPlaced'],
        [BerthHeaders.schemaVersion, '2'],
        [BerthHeaders.streamId, 'vm-1'],
        [BerthHeaders.project, 'acme'],
      ]),
    );
    expect(withProject.get('Berth-Project')).toBe('acme');
    expect(eventHeaders(head).has(BerthHeaders.project)).toBe(false);
  });

  it('leaves to append what it would change or refuse, and adds a second value to a name already set', () => {
    const h = eventHeaders(head);
    putHeader(h, 'tracestate', ' a=1 ');
    expect(h.get('tracestate')).toBe('a=1');
    expect(() => putHeader(h, 'traceparent', 'x\r\nInjected: 1')).toThrow(/cannot contain/);
    putHeader(h, BerthHeaders.eventType, 'Other');
    expect(h.values(BerthHeaders.eventType)).toEqual(['VmPlaced', 'Other']);
  });
});
