/**
 * What never reaches a log line (docs/security.md): values under keys that name a secret are replaced
 * by `***` (pino's redaction, one and two levels deep), and the password of any URL in a logged
 * string — the message, a field, an error's message or stack — is masked (`postgres://u:***@h/db`).
 */
import { maskUrlsIn, MASK } from '@berth/config';

/** Field names whose values are secrets wherever they appear (exact names, case as written). */
export const SECRET_KEYS = [
  'password',
  'passwd',
  'pass',
  'secret',
  'token',
  'accessToken',
  'refreshToken',
  'apiKey',
  'authorization',
  'Authorization',
  'cookie',
  'seed',
  'nkeySeed',
  'privateKey',
  'keyPem',
  'key_pem',
  'clientSecret',
  'credentials',
  'jwt',
  'POSTGRES_PASSWORD',
  'PGPASSWORD',
  'NATS_PASSWORD',
  'NATS_TOKEN',
  'NATS_NKEY_SEED',
] as const;

/** pino `redact.paths`: each key at the top level and one level down (`config.password`, `headers.authorization`). */
export const REDACT_PATHS: readonly string[] = SECRET_KEYS.flatMap((k) => [k, `*.${k}`]);

export const REDACT_CENSOR = MASK;

const MAX_DEPTH = 4;

/** `value` with every URL password inside its strings masked; objects are copied only where something changed. */
export function maskUrlsDeep(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return value.includes('://') ? maskUrlsIn(value) : value;
  if (value === null || typeof value !== 'object' || depth >= MAX_DEPTH) return value;
  if (Array.isArray(value)) {
    let changed = false;
    const out = value.map((v) => {
      const m = maskUrlsDeep(v, depth + 1);
      if (m !== v) changed = true;
      return m;
    });
    return changed ? out : value;
  }
  let out: Record<string, unknown> | undefined;
  for (const [k, v] of Object.entries(value)) {
    const m = maskUrlsDeep(v, depth + 1);
    if (m !== v) (out ??= { ...(value as Record<string, unknown>) })[k] = m;
  }
  return out ?? value;
}
