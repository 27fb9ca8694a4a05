import { describe, expect, it } from 'vitest';
import { normalizePciAddress } from './pci.ts';
import { parseBytes, parseDurationMillis } from './units.ts';

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
    expect(parseBytes(text)).toBe(bytes);
  });

  it.each([
    ['32 GeB', /unknown byte unit/],
    ['1.5 B', /whole number of bytes/],
    ['-1 GiB', /negative/],
    ['GiB', /expected bytes/],
  ])('%s is refused', (text, reason) => {
    expect(parseBytes(text)).toMatch(reason);
  });
});

describe('durations', () => {
  it.each([
    ['5m', 300_000], ['30s', 30_000], ['500ms', 500], ['2 minutes', 120_000], ['1h', 3_600_000], ['250', 250],
  ])('%s = %d ms', (text, ms) => {
    expect(parseDurationMillis(text)).toBe(ms);
  });
  it('unknown units are refused', () => {
    expect(parseDurationMillis('5 fortnights')).toMatch(/unknown duration unit/);
  });
});

describe('PCI addresses', () => {
  it('long and short forms normalise to dddd:bb:ss.f in lower case', () => {
    expect(normalizePciAddress('0000:01:02.0')).toBe('0000:01:02.0');
    expect(normalizePciAddress('02:03.0')).toBe('0000:02:03.0');
    expect(normalizePciAddress('000A:Af:1F.7')).toBe('000a:af:1f.7');
  });
  it.each(['1:2:3', '02:03', '02:03.8', '02:20.0', 'gg:00.0', '0000:01:02.0.1'])('%s is malformed', (text) => {
    expect(normalizePciAddress(text)).toEqual({ reason: expect.stringMatching(/malformed PCI address/) as unknown });
  });
});
