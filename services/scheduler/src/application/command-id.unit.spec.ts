import { describe, expect, it } from 'vitest';
import { claimCommandId, deterministicUuid, failureCommandId } from './command-id.ts';

describe('command ids', () => {
  it('are the same UUIDs in every version of the scheduler (a redelivery may reach a newer replica)', () => {
    // Computed with the first implementation (createHash('sha1').update('berth-scheduler:').update(name)).
    expect(claimCommandId('3f1c9a52-0b7e-4d2a-9c41-5e8f7a6b2d10', 1)).toBe('f06a56a4-f373-5d59-bc29-ccf49feb7913');
    expect(failureCommandId('3f1c9a52-0b7e-4d2a-9c41-5e8f7a6b2d10')).toBe('0a34b5c0-e9d5-5ab0-83f2-fb709eaaea95');
    expect(deterministicUuid('claim:vm-é:2')).toBe('fbda07ce-fe5e-5ec4-904e-1813c09f2387');
  });

  it('differ per attempt and have the v5 layout', () => {
    const ids = [1, 2, 3].map((a) => claimCommandId('evt', a));
    expect(new Set(ids).size).toBe(3);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});
