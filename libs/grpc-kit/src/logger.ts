/** The part of a pino logger the kit uses; `createLogger()` from @berth/observability satisfies it. */
export interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Used only when a handler wrapper runs outside `createGrpcServer` (which binds its own logger). */
export const stderrLogger: Logger = {
  info: () => undefined,
  warn: (obj, msg) => process.stderr.write(`${JSON.stringify({ level: 'warn', msg, ...obj })}\n`),
  error: (obj, msg) => {
    const err: unknown = 'err' in obj ? obj.err : undefined;
    process.stderr.write(`${JSON.stringify({ level: 'error', msg, ...obj, err: err instanceof Error ? err.stack : err })}\n`);
  },
};
