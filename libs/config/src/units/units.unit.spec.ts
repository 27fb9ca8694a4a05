import { describe, expect, it } from 'vitest';
import { ValidationError } from '@berth/errors';
import { normalizePciAddress, readBytes, readDuration, readPciAddress, isCanonicalPciAddress } from './index.ts';

// The cases the HOCON reader had for its own unit table; parseBytes/parseDuration (the throwing forms)
// are covered in config.unit.spec.ts. Both now read through this one table.
const reasonOf = <T>(r: { ok: true; value: T } | { ok: false; reason: string }): string => (r.ok ? `value ${String(r.value)}` : r.reason);

describe('byte sizes', () => {
  it.each([
    ['32', 32],
    ['64 MiB', 64 * 1024 ** 2],
    ['18 GiB', 18 * 1024 ** 3],
    ['32 Gib', 32 * 1024 ** 3],
    ['32gib', 32 * 1024 ** 3],
    ['2G', 2 * 1024 ** 3],
    ['1 TiB', 1024 ** 4],
    ['1.5 KiB', 1536],
    ['10 kB', 10_000],
    ['3 GB', 3e9],
    ['4 bytes', 4],
    ['2 gibibytes', 2 * 1024 ** 3],
  ])('%s = %d bytes', (text, bytes) => {
    expect(readBytes(text)).toEqual({ ok: true, value: bytes });
  });

  it.each([
    ['32 GeB', /unknown byte unit/],
    ['1.5 B', /whole number of bytes/],
    ['-1 GiB', /negative/],
    ['GiB', /expected bytes/],
  ])('%s is refused', (text, reason) => {
    expect(reasonOf(readBytes(text))).toMatch(reason);
  });
});

describe('durations', () => {
  it.each([
    ['5m', 300_000],
    ['30s', 30_000],
    ['500ms', 500],
    ['2 minutes', 120_000],
    ['1h', 3_600_000],
    ['250', 250],
    ['1h30m', 5_400_000],
    ['30 seconds', 30_000],
    ['1500us', 2],
  ])('%s = %d ms', (text, ms) => {
    expect(readDuration(text)).toEqual({ ok: true, value: ms });
  });
  it('unknown units are refused', () => {
    expect(reasonOf(readDuration('5 fortnights'))).toMatch(/unknown duration unit "fortnights"/);
    expect(reasonOf(readDuration('soon'))).toMatch(/"soon" is not a duration/);
  });
});

describe('PCI addresses', () => {
  it('long and short forms normalise to dddd:bb:ss.f in lower case', () => {
    expect(normalizePciAddress('0000:01:02.0')).toBe('0000:01:02.0');
    expect(normalizePciAddress('02:03.0')).toBe('0000:02:03.0');
    expect(normalizePciAddress('000A:Af:1F.7')).toBe('000a:af:1f.7');
  });
  it('gives the parts', () => {
    expect(readPciAddress('0000:AF:1f.7')).toEqual({ ok: true, value: { domain: '0000', bus: 'af', slot: '1f', function: '7' } });
  });
  it.each(['1:2:3', '02:03', '02:03.8', '02:20.0', 'gg:00.0', '0000:01:02.0.1'])('%s is malformed', (text) => {
    expect(reasonOf(readPciAddress(text))).toMatch(/malformed PCI address/);
    expect(() => normalizePciAddress(text, 'devices[1].addr')).toThrow(ValidationError);
    expect(isCanonicalPciAddress(text)).toBe(false);
  });
  it('names the field it was given (seed 003)', () => {
    expect(() => normalizePciAddress('2:3.0', 'devices[1].addr')).toThrow(/devices\[1\]\.addr/);
  });
  it('canonical means long form, lower case', () => {
    expect(isCanonicalPciAddress('0000:02:03.0')).toBe(true);
    expect(isCanonicalPciAddress('02:03.0')).toBe(false);
    expect(isCanonicalPciAddress('0000:AF:03.0')).toBe(false);
  });
});
