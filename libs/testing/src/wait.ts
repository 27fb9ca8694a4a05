/**
 * Polls `probe` until it answers something other than undefined or false, and answers that; throws
 * after `timeoutMillis` (a hang guard: a passing test never waits for it), naming `what` it waited for.
 * Without `intervalMillis`, the polls start 25 ms apart and slow down to 250 ms, so a quick condition
 * is seen at once and a slow one (a process starting, a migration) does not load the machine.
 */
export async function eventually<T>(
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  what: string,
  timeoutMillis = 60_000,
  intervalMillis?: number,
): Promise<T> {
  const until = Date.now() + timeoutMillis;
  for (let wait = intervalMillis ?? 25; ; wait = intervalMillis ?? Math.min(250, wait * 2)) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMillis} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, wait));
  }
}
