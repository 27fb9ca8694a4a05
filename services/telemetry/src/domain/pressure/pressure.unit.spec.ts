import { describe, expect, it } from 'vitest';
import { decidePressure, evolvePressure, initialPressureState, type AssessPressure } from './pressure.ts';

const base: AssessPressure = {
  hostId: 'h',
  decisionId: 'd1',
  memAvailableKib: 1_000_000,
  memFreeKib: 20_000,
  balloonReliefKib: 0,
  vapor: [
    { vmId: 'v-high', priority: 10 },
    { vmId: 'v-low', priority: 1 },
  ],
  calmSinceMillis: undefined,
  nowMillis: 1_000_000,
  thresholds: { critical: 0.05, calm: 0.2, restartAfterMillis: 60_000 },
};

describe('vapor VMs under critical pressure', () => {
  it('powers off the lowest-priority vapor VM when ballooning cannot lift the host out of critical', () => {
    const [e] = decidePressure(base, initialPressureState());
    expect(e?.type).toBe('VmPoweredOffForPressure');
    expect(e?.data).toMatchObject({ vmId: 'v-low', priority: 1, hostId: 'h' });
    expect(e?.type === 'VmPoweredOffForPressure' && e.data.reason).toMatch(/critical memory pressure: 2\.0% free .* lowest priority \(1\)/);
  });

  it('does nothing when ballooning is enough, or the host is not critical', () => {
    expect(decidePressure({ ...base, balloonReliefKib: 40_000 }, initialPressureState())).toEqual([]);
    expect(decidePressure({ ...base, memFreeKib: 100_000 }, initialPressureState())).toEqual([]);
  });

  it('then the next one, one per interval; and restarts the highest priority first once calm long enough', () => {
    let s = initialPressureState();
    for (const e of decidePressure(base, s)) s = evolvePressure(s, e, 't1');
    const second = decidePressure({ ...base, vapor: [{ vmId: 'v-high', priority: 10 }] }, s);
    expect(second[0]?.data.vmId).toBe('v-high');
    for (const e of second) s = evolvePressure(s, e, 't2');
    const calm = { ...base, memFreeKib: 300_000, vapor: [] };
    expect(decidePressure({ ...calm, calmSinceMillis: base.nowMillis - 30_000 }, s)).toEqual([]);
    const restart = decidePressure({ ...calm, calmSinceMillis: base.nowMillis - 60_000 }, s);
    expect(restart).toEqual([
      { type: 'VmRestartedAfterPressure', data: expect.objectContaining({ vmId: 'v-high', calmForMillis: 60_000 }) },
    ]);
    for (const e of restart) s = evolvePressure(s, e);
    expect([...s.poweredOff.keys()]).toEqual(['v-low']);
  });
});
