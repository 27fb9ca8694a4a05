import { modelV1 } from '@berth/contracts';

/** One line per curve for humans: `hard-soft 16 GiB..32 GiB x10`. */
export function describeCurve(c: modelV1.Curve | undefined, bytes: (n: number) => string = String): string {
  if (!c) return '-';
  const extras = `${c.scale !== undefined && c.scale !== 1 ? ` x${c.scale}` : ''}${c.max !== undefined ? ` max ${c.max}` : ''}`;
  switch (c.curve) {
    case 'constant':
      return `constant ${c.value ?? 0}${extras}`;
    case 'linear':
      return `linear ${bytes(c.slope ?? 0)}*n+${bytes(c.base ?? 0)}${extras}`;
    case 'hard-soft':
      return `hard-soft ${bytes(c.soft ?? 0)}:${c.softAmt ?? 1} ${bytes(c.hard ?? 0)}:${c.hardAmt ?? 10}${extras}`;
    case 'piecewise':
      return `piecewise <=${bytes(c.cutoff ?? 0)} ${describeCurve(c.low, bytes)} else ${describeCurve(c.high, bytes)}${extras}`;
    default:
      return `${c.curve}${extras}`;
  }
}
