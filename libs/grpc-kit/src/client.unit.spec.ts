import { describe, expect, it } from 'vitest';
import { effectiveDeadline } from './client.ts';

const never = new AbortController().signal;

describe('effectiveDeadline', () => {
  const client = {};
  const now = 1_000_000;

  it('defaults to 30 s from now for a client it did not create', () => {
    expect(effectiveDeadline(client, {}, now).getTime()).toBe(now + 30_000);
  });

  it('takes an explicit deadline as Date or Unix millis', () => {
    expect(effectiveDeadline(client, { deadline: now + 5 }, now).getTime()).toBe(now + 5);
    expect(effectiveDeadline(client, { deadline: new Date(now + 60_000) }, now).getTime()).toBe(now + 60_000);
  });

  it('is capped by the parent deadline, never extended by it', () => {
    expect(effectiveDeadline(client, { parent: { deadline: new Date(now + 100), signal: never } }, now).getTime()).toBe(now + 100);
    expect(effectiveDeadline(client, { deadline: now + 50, parent: { deadline: new Date(now + 100), signal: never } }, now).getTime()).toBe(
      now + 50,
    );
    expect(effectiveDeadline(client, { parent: { deadline: undefined, signal: never } }, now).getTime()).toBe(now + 30_000);
  });
});
