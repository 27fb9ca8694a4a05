import { describe, expect, it } from 'vitest';
import type { EventEnvelope } from '@berth/contracts';
import { hostStateAction } from './host-states.ts';

const env = (data: unknown, over: Partial<EventEnvelope> = {}): EventEnvelope =>
  ({ id: 'e1', type: 'HostStateChanged', streamId: 'host-h1', schemaVersion: 1, data, ...over }) as EventEnvelope;

describe('HostStateChanged -> drain', () => {
  it('a host entering maintenance-preparing is drained, with the state it had before', () => {
    expect(hostStateAction(env({ from: 'no-scheduling', to: 'maintenance-preparing', reason: 'x' }))).toEqual({
      hostId: 'h1',
      from: 'no-scheduling',
    });
  });

  it('a host taken out of maintenance cancels its drain, keeping the state the operator set', () => {
    expect(hostStateAction(env({ from: 'maintenance-preparing', to: 'enabled', reason: 'back' }))).toEqual({
      hostId: 'h1',
      left: 'enabled',
    });
    expect(hostStateAction(env({ from: 'maintenance', to: 'disabled', reason: 'broken' }))).toEqual({ hostId: 'h1', left: 'disabled' });
  });

  it('any other change, or another event, asks nothing', () => {
    expect(hostStateAction(env({ from: 'maintenance-preparing', to: 'maintenance', reason: 'last claim released' }))).toBeUndefined();
    expect(hostStateAction(env({ from: 'enabled', to: 'maintenance', reason: 'empty host' }))).toBeUndefined();
    expect(hostStateAction(env({ from: 'enabled', to: 'disabled', reason: '' }))).toBeUndefined();
    expect(hostStateAction(env({}, { type: 'HostUpdated' }))).toBeUndefined();
  });

  it('a malformed event is named (dead-lettered with the reason)', () => {
    expect(hostStateAction(env({ from: 'enabled', to: 'sideways', reason: '' }))).toEqual({
      error: expect.stringMatching(/^HostStateChanged: to: /),
    });
  });
});
