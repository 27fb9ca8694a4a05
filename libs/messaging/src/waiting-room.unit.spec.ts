import { afterEach, describe, expect, it, vi } from 'vitest';
import type { JsMsg } from '@nats-io/jetstream';
import { Progress } from './process.ts';
import { WaitingRoom, type Turn } from './waiting-room.ts';

interface FakeMsg {
  readonly name: string;
  readonly working: ReturnType<typeof vi.fn>;
  readonly nak: ReturnType<typeof vi.fn>;
}
const msg = (name: string): FakeMsg => ({ name, working: vi.fn(), nak: vi.fn() });
const asJs = (m: FakeMsg): JsMsg => m as unknown as JsMsg;
const nameOf = (t: Turn | undefined): string | undefined => (t?.msg as unknown as FakeMsg | undefined)?.name;

/** Resolves to the turn if `next()` is ready within a few ticks, else to 'waiting'. */
const nextNow = async (room: WaitingRoom): Promise<string | undefined> => {
  const pending = Symbol('waiting');
  const r = await Promise.race([room.next(), new Promise<typeof pending>((res) => setTimeout(() => res(pending), 5))]);
  return r === pending ? 'waiting' : nameOf(r);
};

describe('WaitingRoom', () => {
  const rooms: WaitingRoom[] = [];
  const room = (limit?: number): WaitingRoom => {
    const r = new WaitingRoom(1000, limit);
    rooms.push(r);
    return r;
  };
  afterEach(() => {
    rooms.splice(0).forEach((r) => r.close());
    vi.useRealTimers();
  });

  it('with limit 1 hands out one message at a time, in delivery order, whatever the keys', async () => {
    const r = room();
    ['a', 'b', 'c'].forEach((n) => r.push(asJs(msg(n)), n));
    const first = await r.next();
    expect(nameOf(first)).toBe('a');
    expect(await nextNow(r)).toBe('waiting');
    r.done(first!.key);
    expect(await nextNow(r)).toBe('b');
  });

  it('hands out up to `limit` messages of different keys at once', async () => {
    const r = room(3);
    ['a', 'b', 'c', 'd'].forEach((n) => r.push(asJs(msg(n)), n));
    const got = [await r.next(), await r.next(), await r.next()];
    expect(got.map(nameOf)).toEqual(['a', 'b', 'c']);
    expect(r.inHand).toBe(3);
    expect(await nextNow(r)).toBe('waiting');
    r.done('b');
    expect(await nextNow(r)).toBe('d');
  });

  it('never hands out two messages of one key at once, keeps their order, and lets other keys go ahead', async () => {
    const r = room(4);
    r.push(asJs(msg('k1')), 'vm-1');
    r.push(asJs(msg('k2')), 'vm-1');
    r.push(asJs(msg('o1')), 'vm-2');
    r.push(asJs(msg('k3')), 'vm-1');
    expect(await nextNow(r)).toBe('k1');
    expect(await nextNow(r)).toBe('o1');
    expect(await nextNow(r)).toBe('waiting');
    expect(r.size).toBe(2);
    r.done('vm-1');
    expect(await nextNow(r)).toBe('k2');
    expect(await nextNow(r)).toBe('waiting');
    r.done('vm-1');
    expect(await nextNow(r)).toBe('k3');
  });

  it('wakes a waiting next() when a message arrives', async () => {
    const r = room(2);
    const pending = r.next();
    r.push(asJs(msg('late')), 'x');
    expect(nameOf(await pending)).toBe('late');
  });

  it('on close naks what waits (not what is in hand), ends next(), and naks later arrivals', async () => {
    const r = room(2);
    const [a, b, c] = [msg('a'), msg('b'), msg('c')];
    r.push(asJs(a), 'k');
    r.push(asJs(b), 'k');
    await r.next();
    const pending = r.next();
    r.close();
    expect(await pending).toBeUndefined();
    expect(a.nak).not.toHaveBeenCalled();
    expect(b.nak).toHaveBeenCalledTimes(1);
    r.push(asJs(c), 'z');
    expect(c.nak).toHaveBeenCalledTimes(1);
    expect(await r.next()).toBeUndefined();
  });

  it('keeps waiting messages alive, but not the ones in hand', async () => {
    vi.useFakeTimers();
    const r = new WaitingRoom(100, 1);
    rooms.push(r);
    const [a, b] = [msg('a'), msg('b')];
    r.push(asJs(a), 'k');
    r.push(asJs(b), 'k');
    await r.next();
    vi.advanceTimersByTime(250);
    expect(a.working).not.toHaveBeenCalled();
    expect(b.working).toHaveBeenCalledTimes(2);
  });
});

describe('Progress with out-of-order completion', () => {
  it("resumes at the lowest sequence still in hand or nak'd, however later ones finished", () => {
    const p = new Progress();
    [1, 2, 3, 4, 5].forEach((s) => p.received(s));
    p.finished(5);
    p.finished(2);
    p.finished(4);
    expect(p.resumeFrom()).toBe(1); // 1 and 3 in hand (or nak'd)
    p.finished(1);
    expect(p.resumeFrom()).toBe(3);
    p.finished(3);
    expect(p.resumeFrom()).toBe(6);
    p.received(3); // redelivered after an unconfirmed ack
    expect(p.resumeFrom()).toBe(3);
  });
});
