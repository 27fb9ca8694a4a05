import { describe, expect, it } from 'vitest';
import { PositionGate, ViewPosition } from './view-position.ts';

const at = (position: number, hostsRevision: number) => ({ transactionId: '7', position: String(position), hostsRevision });

describe('PositionGate (the view position joined with the host watch)', () => {
  it('advances the position only once the host revision it names is applied, in order', () => {
    const position = new ViewPosition();
    const gate = new PositionGate(position);
    gate.published(at(10, 5));
    gate.published(at(20, 8));
    expect(position.current()).toBeUndefined();
    gate.hostsApplied(4);
    expect(position.current()).toBeUndefined();
    gate.hostsApplied(6);
    expect(position.current()?.position).toBe('10');
    gate.hostsApplied(8);
    expect(position.current()?.position).toBe('20');
    // Published after the host watch is already past its revision: at once.
    gate.published(at(30, 7));
    expect(position.current()?.position).toBe('30');
    // A revision going back changes nothing.
    gate.hostsApplied(3);
    gate.published(at(40, 8));
    expect(position.current()?.position).toBe('40');
  });

  it('a newer record naming no later revision replaces the one waiting', () => {
    const position = new ViewPosition();
    const gate = new PositionGate(position);
    gate.published(at(10, 5));
    gate.published(at(11, 5));
    gate.published(at(12, 9));
    gate.hostsApplied(5);
    expect(position.current()?.position).toBe('11');
    gate.hostsApplied(9);
    expect(position.current()?.position).toBe('12');
  });
});
