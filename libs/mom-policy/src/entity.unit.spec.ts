import { describe, expect, it } from 'vitest';
import { evaluateInterval, type EvalInput } from './interval.ts';
import { toJson } from './output.ts';
import { loadPolicySet } from './policy-set.ts';
import { guestCpu, hostSample, run, valueOf } from './testing/policy-run.ts';

// The entity methods a policy sees (mom/Entity.py) and how samples become entities (Monitor.py).
const vm = (over: Record<string, unknown> = {}) => ({
  name: 'vm1',
  uuid: 'u-1',
  props: { tier: 'gold' },
  ...guestCpu(),
  balloon_cur: 2048,
  ...over,
});
const one = (text: string, input: Partial<EvalInput> = {}) => run(text, { guests: [vm()], ...input });

describe('entities', () => {
  it('statistics of the latest sample are attributes: Host.mem_free, guest.balloon_cur', () => {
    expect(valueOf('(defvar x Host.mem_free)')).toBe('8000000');
    const out = one('(defvar x 0) (with Guests g (set x g.balloon_cur))');
    expect(out.variables.x).toBe(2048);
  });
  it('Stat reads the latest value; a statistic no collector declares is a KeyError', () => {
    expect(valueOf('(defvar x (Host.Stat "cpu_count"))')).toBe('8');
    const bad = run('(Host.Stat "no_such_stat")');
    expect(bad.ok).toBe(false);
    expect(bad.error).toMatch(/KeyError/);
  });
  it('an optional statistic missing from the sample reads as None; valid says so', () => {
    const out = one('(defvar x 1) (with Guests g (set x (valid g.mem_unused (g.Stat "swap_in"))))');
    expect(out.variables.x).toBe(false);
  });
  it('an undeclared statistic in a sample is no attribute', () => {
    const out = one('(with Guests g g.rss)', { guests: [vm({ rss: 5 })] });
    expect(out.ok).toBe(false);
    expect(out.error).toMatch(/undefined symbol g\.rss/);
  });
  it('StatAvg is the float mean over the stored history, skipping None, 0.0 when all are None', () => {
    const host = [hostSample({ mem_free: 1 }), hostSample({ mem_free: 2 })];
    expect(toJson(run('(defvar x (Host.StatAvg "mem_free"))', { host }))).toContain('"x": 1.5');
    const guests = [{ name: 'g', history: [{ ...guestCpu(), mem_unused: 10 }, { ...guestCpu() }, { ...guestCpu(), mem_unused: 20 }] }];
    expect(run('(defvar x 0) (with Guests g (set x (g.StatAvg "mem_unused")))', { guests }).variables.x).toBe(15);
    expect(toJson(run('(defvar x 0) (with Guests g (set x (g.StatAvg "swap_out")))', { guests }))).toContain('"x": 0.0');
  });
  it('history keeps the last history_length complete samples', () => {
    const host = [1, 2, 3, 4].map((f) => hostSample({ mem_free: f }));
    // last 2 of 1,2,3,4 -> (3+4)/2
    expect(run('(defvar x (Host.StatAvg "mem_free"))', { host, config: { history_length: 2 } }).variables.x).toBe(3.5);
    // an incomplete sample in the middle is never stored: mean of 1 and 4
    const { cpu_count: _c, ...incomplete } = hostSample({ mem_free: 100 });
    const gap = [hostSample({ mem_free: 1 }), incomplete, hostSample({ mem_free: 4 })];
    expect(run('(defvar x (Host.StatAvg "mem_free"))', { host: gap }).variables.x).toBe(2.5);
  });
  it('Prop reads properties (props, name, uuid); a missing one is an error', () => {
    const out = one('(defvar x "") (with Guests g (set x (+ (g.Prop "tier") (+ (g.Prop "name") (g.Prop "uuid")))))');
    expect(out.variables.x).toBe('goldvm1u-1');
    expect(one('(with Guests g (g.Prop "nope"))').ok).toBe(false);
    expect(run('(defvar x (Host.Prop "interval"))', { host_props: { interval: 15 } }).variables.x).toBe(15);
  });
  it('Control sets a control; GetControl reads it back, None before', () => {
    const out = one(
      '(defvar before 1) (defvar after 0) (with Guests g { (set before (g.GetControl "balloon_target")) (g.Control "balloon_target" 1024) (set after (g.GetControl "balloon_target")) }) (Host.Control "ksm_run" 1)',
    );
    expect(out.guests).toEqual({ vm1: { balloon_target: 1024 } });
    expect(out.host).toEqual({ ksm_run: 1 });
    expect(out.variables.before).toBeNull();
    expect(out.variables.after).toBe(1024);
  });
  it('SetVar and GetVar keep a value on the entity for this interval; unknown is None', () => {
    const out = one(
      '(defvar x 0) (defvar y 1) (with Guests g (g.SetVar "k" 7)) (with Guests g { (set x (g.GetVar "k")) (set y (g.GetVar "other")) })',
    );
    expect(out.variables.x).toBe(7);
    expect(out.variables.y).toBeNull();
  });
  it('methods check their arity', () => {
    expect(run('(Host.Control "a")').ok).toBe(false);
    expect(run('(Host.Stat)').ok).toBe(false);
    expect(run('(abs 1 2)').ok).toBe(false);
  });
  it('Guests is the list of ready guests: with iterates it, null tells it is empty', () => {
    const out = run('(defvar n (with Guests g 1)) (defvar e (null Guests))', { guests: [vm(), vm({ name: 'vm2' })] });
    expect(out.variables.n).toEqual([1, 1]);
    expect(out.variables.e).toBe(false);
    expect(run('(defvar e (null Guests))').variables.e).toBe(true);
  });
  it('a.b.c reads attribute b of a and ignores c, as MOM does', () => {
    expect(valueOf('(defvar x Host.mem_free.whatever)')).toBe('8000000');
  });
  it('bad input is ok:false naming the field, never a throw', () => {
    const set = loadPolicySet([{ name: 'p.policy', text: '1' }]);
    expect(evaluateInterval(set, { host: [], guests: [] }).error).toMatch(/^input: host/);
    expect(evaluateInterval(set, { host: hostSample(), guests: [{ name: 'a' }, { name: 'a' }] }).error).toMatch(/guests\[1\]\.name/);
    expect(evaluateInterval(set, { host: hostSample(), guests: [], config: { host_collectors: ['Nope'] } }).error).toMatch(
      /unknown collector 'Nope'/,
    );
  });
  it('other collectors change what is mandatory (config)', () => {
    const set = loadPolicySet([{ name: 'p.policy', text: '(defvar x 1)' }]);
    const out = evaluateInterval(set, {
      host: { cpu_count: 4 },
      guests: [{ name: 'a' }, { name: 'b', balloon_cur: 1, balloon_max: 2, balloon_min: 0 }],
      config: { host_collectors: ['HostCpu'], guest_collectors: ['GuestBalloon'] },
    });
    expect(out.ok).toBe(true);
    expect(out.excluded_guests).toEqual(['a']);
  });
});
