import type { z } from 'zod';
import { ConfigError, type ConfigProblem } from './errors.ts';

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Parses the environment once against `schema` (an object keyed by variable name) and returns a
 * deeply frozen result. Throws ConfigError naming every missing or invalid variable, not only the first.
 * Empty strings count as unset, so `FOO=` in a .env file falls back to the default or is reported.
 */
export function loadConfig<S extends z.ZodType<object, Record<string, unknown>>>(schema: S, env: Env = process.env): Readonly<z.output<S>> {
  const input: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v !== '') input[k] = v;
  const result = schema.safeParse(input);
  if (!result.success) {
    const problems: ConfigProblem[] = result.error.issues.map((issue) => {
      const variable = issue.path.length > 0 ? issue.path.map(String).join('.') : '(config)';
      const top = issue.path[0];
      const missing = typeof top === 'string' && !(top in input) && issue.code === 'invalid_type';
      return { variable, reason: missing ? 'is required but not set' : issue.message };
    });
    throw new ConfigError(problems);
  }
  return deepFreeze(result.data);
}

function deepFreeze<T>(value: T): Readonly<T> {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
