/**
 * A CPU profile per benchmark phase, for `node --import`: the V8 profiler runs from start-up and a
 * profile is written each time the benchmark prints a progress line (inventory's "setup: ...", e2e's
 * warm-up line) and at exit, into PHASE_PROFILE_DIR (`<n>-<phase>.cpuprofile`, readable by Chrome's
 * DevTools or `summarize-profile.ts`). Like pg-traffic.ts it belongs to no tree: an older tree is
 * profiled the same way from its own folder.
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';

const dir = process.env['PHASE_PROFILE_DIR'] ?? '.';
mkdirSync(dir, { recursive: true });
const session = new Session();
session.connect();
const post = (method: string, params?: object): Promise<unknown> =>
  new Promise((resolve, reject) => session.post(method, params, (e, r) => (e ? reject(e) : resolve(r))));
await post('Profiler.enable');
await post('Profiler.setSamplingInterval', { interval: 1000 });
await post('Profiler.start');

let n = 0;
let name = 'setup';
/** Writes the profile of the phase that ends and starts the next one (synchronously enough: post answers at once). */
function cut(next: string): void {
  const file = join(dir, `${n++}-${name}.cpuprofile`);
  session.post('Profiler.stop', (e, r) => {
    if (!e) writeFileSync(file, JSON.stringify((r as { profile: unknown }).profile));
    session.post('Profiler.start');
  });
  name = next;
}

const log = console.log.bind(console);
console.log = (...args: unknown[]) => {
  const line = args.map(String).join(' ');
  if (/^setup:/.test(line)) cut('claims');
  else if (/warm-?up/i.test(line)) cut('measured');
  log(...args);
};
process.on('beforeExit', () => {
  if (name !== '') cut('');
});
