import { describe, expect, it } from 'vitest';
import { AdmissionGate } from './admission.ts';

describe('AdmissionGate.hold (the runner takes a slot for migrations no drain started)', () => {
  it('holds within the caps, answers true for a VM whose slot a drain already took, and waits when the caps are full', () => {
    const gate = new AdmissionGate({ fleet: 2, outboundPerHost: 1, inboundPerHost: 2 });
    // a drain of h1 took vm1's slot
    expect(gate.acquireMany([{ vmId: 'vm1', sourceHostId: 'h1', destinationHostId: 'h2' }]).admitted).toHaveLength(1);
    expect(gate.hold({ vmId: 'vm1', sourceHostId: 'h1', destinationHostId: 'h2' }).admitted).toBe(true);
    // a manual migration out of h1: h1's outbound slot is taken
    expect(gate.hold({ vmId: 'vm2', sourceHostId: 'h1' })).toEqual({
      admitted: false,
      cap: 'outbound',
      reason: 'host h1 has 1 outbound migrations (cap 1)',
    });
    // from h3: admitted; the fleet (2) is now full for everyone, the balancer included
    expect(gate.hold({ vmId: 'vm3', sourceHostId: 'h3' }).admitted).toBe(true);
    expect(gate.hold({ vmId: 'vm4', sourceHostId: 'h4', destinationHostId: 'h5' })).toEqual({
      admitted: false,
      cap: 'fleet',
      reason: 'fleet cap 2 reached',
    });
    expect(gate.running).toBe(2);
    gate.release('vm3');
    expect(gate.hold({ vmId: 'vm4', sourceHostId: 'h4', destinationHostId: 'h5' }).admitted).toBe(true);
    expect(gate.maxConcurrentObserved).toBe(2);
  });
});
