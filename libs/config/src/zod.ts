import { z } from 'zod';
import { ValidationError } from '@berth/errors';
import { parseDuration } from './units/duration.ts';
import { parseBytes } from './units/bytes.ts';

function parsed<T>(parse: (text: string) => T): z.ZodType<T, string> {
  return z.string().transform((text, ctx) => {
    try {
      return parse(text);
    } catch (e) {
      const reason = e instanceof ValidationError ? (e.violations[0]?.reason ?? e.message) : String(e);
      ctx.addIssue({ code: 'custom', message: reason });
      return z.NEVER;
    }
  });
}

/** A duration variable (`500ms`, `5s`, `2m`, `1h`) as milliseconds. Default with `.prefault('5s')`. */
export const zDuration = (): z.ZodType<number, string> => parsed((t) => parseDuration(t));

/** A size variable (`32 GiB`, `64 MiB`, `4 GB`, bytes) as bytes. Default with `.prefault('1 GiB')`. */
export const zBytes = (): z.ZodType<number, string> => parsed((t) => parseBytes(t));

/** A TCP port (0-65535; 0 asks the OS for an ephemeral port). Default with `.prefault('50051')`. */
export const zPort = (): z.ZodType<number, string> =>
  parsed((t) => {
    const s = t.trim();
    const n = Number(s);
    if (!/^\d+$/.test(s) || n > 65_535) throw new ValidationError({ field: 'port', reason: `"${t}" is not a port (0-65535)` });
    return n;
  });

/**
 * A URL variable, optionally restricted to some protocols, e.g. `zUrl(['postgres', 'postgresql'])`.
 * The value stays a string (what pg and NATS clients take). Errors never repeat the value.
 */
export const zUrl = (protocols?: readonly string[]): z.ZodType<string, string> =>
  parsed((t) => {
    const s = t.trim();
    let url: URL;
    try {
      url = new URL(s);
    } catch {
      // Never the value: a URL may carry a password (the variable's name is in the error).
      throw new ValidationError({ field: 'url', reason: 'is not a URL (value not shown: it may carry credentials)' });
    }
    const scheme = url.protocol.replace(/:$/, '');
    if (protocols && !protocols.includes(scheme)) {
      throw new ValidationError({ field: 'url', reason: `scheme "${scheme}" is not one of ${protocols.join(', ')}` });
    }
    return s;
  });
