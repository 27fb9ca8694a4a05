import { describe, expect, it } from 'vitest';
import { context, propagation, trace, TraceFlags } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { ConcurrencyError, IllegalStateError, ValidationError } from '@berth/errors';
import { infraAvailable } from '@berth/testing';
import { aggregate, CommandBatcher, type Folded } from './index.ts';
import { useTestStore } from './testing/store-fixture.ts';

/** An account: a balance moved by Deposited / Withdrawn events. */
const account = aggregate<number>({
  prefix: 'acct-',
  initial: () => 0,
  evolve: (balance, e) => balance + (e.type === 'Deposited' ? 1 : -1) * (e.data as { amount: number }).amount,
});
const balanceOf = (f: Folded | undefined): number => (f === undefined ? 0 : account.of(f).state);

const deposit = (id: string, amount: number, commandId?: string) => ({
  streamIds: [id],
  ...(commandId ? { commandId } : {}),
  decide: () => [[{ type: 'Deposited', data: { amount } }]],
});

/** Moves `amount` between two accounts atomically; refuses when the source would go negative. */
const transfer = (from: string, to: string, amount: number) => ({
  streamIds: [from, to],
  decide: ([src]: readonly Folded[]) => {
    if (balanceOf(src) < amount) throw new IllegalStateError(`${from} holds ${balanceOf(src)}, cannot move ${amount}`);
    return [[{ type: 'Withdrawn', data: { amount } }], [{ type: 'Deposited', data: { amount } }]];
  },
});

describe.skipIf(!(await infraAvailable('postgres')))('CommandBatcher', () => {
  const t = useTestStore('es_batcher');
  const balance = async (id: string): Promise<number> =>
    (await t.store.readStream(id)).events.reduce(
      (b, e) => b + (e.type === 'Deposited' ? 1 : -1) * (e.data as { amount: number }).amount,
      0,
    );

  it('commits concurrent commands in few statements, each decided on the state the ones before it left', async () => {
    const batcher = new CommandBatcher(t.store, { aggregates: [account] });
    const results = await Promise.all(Array.from({ length: 300 }, (_, i) => batcher.execute(deposit(`acct-a${i % 10}`, 1))));
    expect(results.every((r) => !r.duplicate && r.events[0]!.length === 1)).toBe(true);
    for (let i = 0; i < 10; i++) expect(await t.store.readStream(`acct-a${i}`)).toMatchObject({ version: 30 });
    // 300 commands, 256 per statement at most: two statements when they all queue at once.
    expect(batcher.stats).toMatchObject({ commands: 300 });
    expect(batcher.stats.batches).toBeLessThanOrEqual(3);
    expect(balanceOf(await batcher.read('acct-a3'))).toBe(30);
    // Named by its aggregate, the stream reads back typed.
    const typed: number = (await batcher.read(account.stream('acct-a3'))).state;
    expect(typed).toBe(30);
  });

  it('gives a state back typed only to the aggregate that folded it', async () => {
    const note = aggregate<string>({ prefix: 'note-', initial: () => '', evolve: (text, e) => text + String(e.data) });
    const batcher = new CommandBatcher(t.store, { aggregates: [account, note] });
    const r = await batcher.execute({
      streamIds: ['acct-typed', 'note-typed'],
      decide: ([acct, text]) => {
        expect(account.of(acct!).state).toBe(0);
        expect(note.of(text!).state).toBe('');
        return [[{ type: 'Deposited', data: { amount: 2 } }], [{ type: 'Noted', data: 'hi' }]];
      },
    });
    expect(account.of(r.states[0]!)).toEqual({ state: 2, version: 1 });
    expect(note.of(r.states[1]!).state).toBe('hi');
    expect(() => account.of(r.states[1]!)).toThrow("aggregate 'acct-' did not fold");
    expect(() => account.of({ state: 7, version: 1 })).toThrow("aggregate 'acct-' did not fold");
    expect((await batcher.readFresh(note.stream('note-typed'))).state).toBe('hi');
    expect(() => note.stream('acct-typed')).toThrow("is not one of aggregate 'note-'");
  });

  it('applies a multi-stream command atomically and refuses one that does not hold, leaving the others', async () => {
    const batcher = new CommandBatcher(t.store, { aggregates: [account] });
    await batcher.execute(deposit('acct-src', 10));
    const outcomes = await Promise.allSettled([
      batcher.execute(transfer('acct-src', 'acct-dst', 6)),
      batcher.execute(transfer('acct-src', 'acct-dst', 6)), // only 4 left
      batcher.execute(transfer('acct-src', 'acct-dst', 4)),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((outcomes[1] as PromiseRejectedResult).reason).toBeInstanceOf(IllegalStateError);
    expect([await balance('acct-src'), await balance('acct-dst')]).toEqual([0, 10]);
    const ok = (outcomes[0] as PromiseFulfilledResult<{ states: readonly Folded[] }>).value;
    expect(ok.states.map((f) => [balanceOf(f), f.version])).toEqual([
      [4, 2],
      [6, 1],
    ]);
  });

  it('keeps two batchers on the same streams right: stale caches end in conflicts, re-read and re-decided', async () => {
    const one = new CommandBatcher(t.store, { aggregates: [account], maxRetries: 50 });
    const two = new CommandBatcher(t.store, { aggregates: [account], maxRetries: 50 });
    await one.execute(deposit('acct-shared', 100));
    await two.read('acct-shared');
    await Promise.all(
      Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? one : two).execute(transfer('acct-shared', `acct-sink${i % 4}`, 2))),
    );
    expect(await balance('acct-shared')).toBe(20);
    const sinks = await Promise.all([0, 1, 2, 3].map((i) => balance(`acct-sink${i}`)));
    expect(sinks).toEqual([20, 20, 20, 20]);
    // A refusal on a stale cache is decided again on the log's state: `one` has not seen these deposits.
    await two.execute(deposit('acct-shared', 80));
    await expect(one.execute(transfer('acct-shared', 'acct-sink0', 90))).resolves.toMatchObject({ duplicate: false });
    expect(await balance('acct-shared')).toBe(10);
  });

  it('decides a stream named new as empty without reading it, and on the log when it existed after all', async () => {
    const batcher = new CommandBatcher(t.store, { aggregates: [account] });
    const loads = batcher.stats.loads;
    await batcher.execute({ ...deposit('acct-fresh', 3), newStreams: ['acct-fresh'] });
    expect(batcher.stats.loads).toBe(loads);
    expect(await balance('acct-fresh')).toBe(3);
    // Wrongly named new: the append conflicts, the stream is read and the deposit decided again on top.
    await t.store.append('acct-old', [{ type: 'Deposited', data: { amount: 5 } }], { expectedVersion: 'no-stream' });
    const r = await batcher.execute({ ...deposit('acct-old', 2), newStreams: ['acct-old'] });
    expect([balanceOf(r.states[0]), r.states[0]!.version]).toEqual([7, 2]);
    expect(await balance('acct-old')).toBe(7);
  });

  it('keeps the tentative fold after a commit when the aggregate adopts it, and folds the stored events again when not', async () => {
    // Each state records the times it was folded from: what was folded twice shows.
    const folds: string[] = [];
    const counted = (prefix: string, adopt: boolean) =>
      aggregate<{ readonly sum: number; readonly at: string }>({
        prefix,
        initial: () => ({ sum: 0, at: '' }),
        evolve: (s, e) => {
          folds.push(`${e.streamId}@${e.streamPosition}`);
          return { sum: s.sum + (e.data as { amount: number }).amount, at: e.occurredAt };
        },
        // Restamped as the stored events say (the tentative fold saw the batch's clock).
        ...(adopt ? { adoptTentative: (s, stored) => ({ sum: s.sum, at: stored.at(-1)?.occurredAt ?? s.at }) } : {}),
      });
    const kept = counted('kept-', true);
    const refolded = counted('refolded-', false);
    const batcher = new CommandBatcher(t.store, { aggregates: [kept, refolded] });
    const both = (amount: number) => ({
      streamIds: ['kept-1', 'refolded-1'],
      decide: () => [[{ type: 'Deposited', data: { amount } }], [{ type: 'Deposited', data: { amount } }]],
    });
    const results = await Promise.all([both(1), both(2), both(3)].map((c) => batcher.execute(c)));
    // Folded once each (tentatively) where adopted; tentatively and then stored where not.
    expect(folds.filter((f) => f.startsWith('kept-')).sort()).toEqual(['kept-1@1', 'kept-1@2', 'kept-1@3']);
    expect(folds.filter((f) => f.startsWith('refolded-')).sort()).toEqual([
      'refolded-1@1',
      'refolded-1@1',
      'refolded-1@2',
      'refolded-1@2',
      'refolded-1@3',
      'refolded-1@3',
    ]);
    // The adopted states are the stored events' fold: the same sums and the stored times.
    const stored = await t.store.readStream('kept-1');
    const last = results.find((r) => r.states[0]!.version === 3)!;
    expect(kept.of(last.states[0]!).state).toEqual({ sum: 6, at: stored.events.at(-1)!.occurredAt });
    expect(kept.of(await batcher.read('kept-1')).state).toEqual(refolded.of(await batcher.read('refolded-1')).state);
    // A stream another writer moved meanwhile: the command conflicts, is decided again on the log's state, and that fold is kept.
    await t.store.append('kept-1', [{ type: 'Deposited', data: { amount: 10 } }], { expectedVersion: 3 });
    const after = await batcher.execute({ streamIds: ['kept-1'], decide: () => [[{ type: 'Deposited', data: { amount: 1 } }]] });
    expect([kept.of(after.states[0]!).state.sum, after.states[0]!.version]).toEqual([17, 5]);
  });

  it("records each command's own W3C trace context with its events, not the batch's", async () => {
    const manager = new AsyncLocalStorageContextManager().enable();
    context.setGlobalContextManager(manager);
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    try {
      const batcher = new CommandBatcher(t.store, { aggregates: [account] });
      const traced = (n: number) => {
        const spanContext = { traceId: `${n}`.repeat(32), spanId: `${n}`.repeat(16), traceFlags: TraceFlags.SAMPLED };
        return context.with(trace.setSpanContext(context.active(), spanContext), () => batcher.execute(deposit(`acct-traced-${n}`, n)));
      };
      const results = await Promise.all([traced(1), traced(2)]);
      expect(batcher.stats.batches).toBe(1); // both in one statement
      for (const [i, n] of [1, 2].entries()) {
        const want = `00-${`${n}`.repeat(32)}-${`${n}`.repeat(16)}-01`;
        expect(results[i]!.events[0]![0]!.metadata['traceparent']).toBe(want);
        expect((await t.store.readStream(`acct-traced-${n}`)).events[0]!.metadata['traceparent']).toBe(want);
      }
    } finally {
      propagation.disable();
      context.disable();
    }
  });

  it('gives up after maxRetries conflicts with a ConcurrencyError', async () => {
    const batcher = new CommandBatcher(t.store, { aggregates: [account], maxRetries: 0 });
    await batcher.read('acct-busy');
    await t.store.append('acct-busy', [{ type: 'Deposited', data: { amount: 1 } }], { expectedVersion: 'no-stream' });
    await expect(batcher.execute(deposit('acct-busy', 1))).rejects.toBeInstanceOf(ConcurrencyError);
  });

  it('answers a repeated command id as a duplicate with the first events', async () => {
    const batcher = new CommandBatcher(t.store, { aggregates: [account] });
    const first = await batcher.execute(deposit('acct-once', 5, 'cmd-once'));
    const [again, third] = await Promise.all([
      batcher.execute(deposit('acct-once', 5, 'cmd-once')),
      new CommandBatcher(t.store, { aggregates: [account] }).execute(deposit('acct-once', 5, 'cmd-once')),
    ]);
    for (const r of [again, third]) {
      expect(r.duplicate).toBe(true);
      expect(r.events[0]!.map((e) => e.id)).toEqual(first.events[0]!.map((e) => e.id));
      expect(balanceOf(r.states[0])).toBe(5);
    }
    expect(await balance('acct-once')).toBe(5);
  });

  it('rejects bad commands naming the field, writing nothing', async () => {
    const batcher = new CommandBatcher(t.store, { aggregates: [account] });
    await expect(batcher.execute({ streamIds: ['other-1'], decide: () => [[{ type: 'X', data: 1 }]] })).rejects.toMatchObject({
      violations: [{ field: 'streamIds[0]' }],
    });
    await expect(batcher.execute({ streamIds: [], decide: () => [] })).rejects.toBeInstanceOf(ValidationError);
    await expect(batcher.execute({ streamIds: ['acct-x', 'acct-x'], decide: () => [] })).rejects.toMatchObject({
      violations: [{ field: 'streamIds' }],
    });
    await expect(batcher.execute({ streamIds: ['acct-bad'], decide: () => [[{ type: '', data: 1 }]] })).rejects.toMatchObject({
      violations: [{ field: 'events[0].type' }],
    });
    expect((await t.store.readStream('acct-bad')).version).toBe(0);
  });
});
