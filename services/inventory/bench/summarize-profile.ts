/**
 * Where a .cpuprofile's time went: self time per function and per package or workspace folder,
 * and total (inclusive) time of the functions whose name matches a pattern. PROFILE_WINDOW=FROM-TO (seconds
 * after the profile's start; negative: before its end) keeps only the samples taken then.
 *   tsx services/inventory/bench/summarize-profile.ts FILE.cpuprofile [TOP=25] [INCLUSIVE_REGEX]
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const [file, topArg, inclusiveArg] = process.argv.slice(2);
if (file === undefined) throw new Error('usage: summarize-profile.ts FILE [TOP] [INCLUSIVE_REGEX]');
const top = Number(topArg ?? 25);
const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

const span = (p.endTime - p.startTime) / 1e6;
const [from, to] = (process.env['PROFILE_WINDOW'] ?? `0-${span}`)
  .split(/(?<=\d)-/)
  .map(Number)
  .map((t) => (t < 0 ? span + t : t));
const self = new Map<number, number>();
let at = 0;
p.samples.forEach((id, i) => {
  at += p.timeDeltas[i] ?? 0;
  if (at / 1e6 < from! || at / 1e6 > to!) return;
  self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i] ?? 0));
});
const total = [...self.values()].reduce((a, b) => a + b, 0);

const where = (url: string): string => {
  if (url === '') return '(native/V8)';
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m) return m[1]!;
  const w = /\/(libs|services|test)\/([^/]+)/.exec(url);
  if (w) return `${w[1]}/${w[2]}`;
  return url.startsWith('node:') ? 'node:' + url.slice(5).split('/')[0] : url.split('/').slice(-2).join('/');
};
const label = (n: ProfileNode): string =>
  `${n.callFrame.functionName || '(anonymous)'} ${where(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;

const sum = (m: Map<string, number>, k: string, v: number) => m.set(k, (m.get(k) ?? 0) + v);
const fns = new Map<string, number>();
const places = new Map<string, number>();
for (const [id, t] of self) {
  const n = byId.get(id)!;
  sum(fns, label(n), t);
  sum(places, where(n.callFrame.url), t);
}
const ms = (us: number) => `${(us / 1000).toFixed(0).padStart(7)} ms ${((100 * us) / total).toFixed(1).padStart(5)}%`;
console.log(`${file}: ${(total / 1e6).toFixed(2)} s sampled over ${((p.endTime - p.startTime) / 1e6).toFixed(2)} s`);
console.log('self time by place:');
for (const [k, v] of [...places].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`  ${ms(v)}  ${k}`);
console.log('self time by function:');
for (const [k, v] of [...fns].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${ms(v)}  ${k}`);

if (inclusiveArg !== undefined) {
  // Inclusive time of matching functions: a sample counts once per matching name on its stack.
  const re = new RegExp(inclusiveArg);
  const inclusive = new Map<string, number>();
  for (const [id, t] of self) {
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const n = byId.get(cur)!;
      const l = label(n);
      if (re.test(l) && !seen.has(l)) {
        seen.add(l);
        sum(inclusive, l, t);
      }
    }
  }
  console.log(`inclusive time of /${inclusiveArg}/:`);
  for (const [k, v] of [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${ms(v)}  ${k}`);
}
