/**
 * What a benchmark sends to Postgres, for `node --import`: counts the statements every pg client of
 * the process submits and the bytes it writes to and reads from the server (the wire protocol's
 * messages, TLS aside), per kind of statement (its text's first words), and the CPU time of this
 * process and of the Postgres backends serving its connections (/proc, sampled every 200 ms), in
 * phases cut where the benchmark prints its progress lines. Prints a summary to stderr at exit.
 * CPU time, unlike a profile's wall-clock samples, does not grow when a loaded machine makes the
 * process wait.
 *   node --import tsx --import ./services/inventory/bench/pg-traffic.ts services/inventory/bench/inventory.bench.ts
 * It patches the pg package the benchmark resolves from the current directory, so the same file
 * measures an older tree run from its own folder (nothing here is specific to this tree).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

interface Kind {
  statements: number;
  sent: number;
  received: number;
  /** Milliseconds from sending to the server's ReadyForQuery, summed. */
  millis: number;
}
interface Phase {
  readonly name: string;
  readonly kinds: Map<string, Kind>;
  sent: number;
  received: number;
  statements: number;
  /** CPU microseconds at the phase's start: this process, and Postgres backends. */
  readonly nodeCpuFrom: number;
  readonly pgCpuFrom: number;
}

const require = createRequire(`${process.cwd()}/`);
const pgQuery = require('pg/lib/query.js') as {
  prototype: { submit: (connection: object) => unknown; handleReadyForQuery: (con: unknown) => unknown; text?: string; name?: string };
};
const pgConnection = require('pg/lib/connection.js') as {
  prototype: { _send: (buffer: Buffer) => unknown; attachListeners: (stream: NodeJS.EventEmitter) => unknown };
};

/** Backend pid -> its CPU (user + system) microseconds when last read; a backend that ended keeps its last figure. */
const backends = new Map<number, number>();
const TICK_MICROS = 10_000; // USER_HZ 100
function sampleBackends(): number {
  let total = 0;
  for (const [pid, last] of backends) {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      // Fields 14 and 15 (utime, stime) of proc(5), counted after the command name's closing parenthesis.
      const now = (Number(fields[11]) + Number(fields[12])) * TICK_MICROS;
      backends.set(pid, now);
      total += now;
    } catch {
      total += last;
    }
  }
  return total;
}
setInterval(sampleBackends, 200).unref();
const nodeCpu = (): number => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

const phases: Phase[] = [];
const newPhase = (name: string): Phase => {
  const p: Phase = { name, kinds: new Map(), sent: 0, received: 0, statements: 0, nodeCpuFrom: nodeCpu(), pgCpuFrom: sampleBackends() };
  phases.push(p);
  return p;
};
let phase = newPhase('setup');
/** The statement whose messages are being written (submit writes them synchronously). */
let current: Kind | undefined;

const kindOf = (text: string | undefined, name: string | undefined): string => {
  const words = (text ?? '').replace(/\s+/g, ' ').trim().replace(/\$\d+/g, '$').slice(0, 90);
  return `${name === undefined ? '' : '[named] '}${words}`;
};

const kind = (label: string): Kind => {
  let k = phase.kinds.get(label);
  if (k === undefined) phase.kinds.set(label, (k = { statements: 0, sent: 0, received: 0, millis: 0 }));
  return k;
};

/** The statement whose answer is being read, per connection (one at a time on a pg connection). */
const reading = new WeakMap<object, Kind>();

/** PG_TRAFFIC_CUT: the first statement whose text matches starts a phase (e.g. a benchmark's audit after its measured part). */
const cutAt = process.env['PG_TRAFFIC_CUT'] === undefined ? undefined : new RegExp(process.env['PG_TRAFFIC_CUT']);
let cutDone = false;

const sentAt = new WeakMap<object, [Kind, number]>();
const ready = pgQuery.prototype.handleReadyForQuery;
pgQuery.prototype.handleReadyForQuery = function (this: object, con: unknown) {
  const sent = sentAt.get(this);
  if (sent !== undefined) sent[0].millis += performance.now() - sent[1];
  return ready.call(this, con);
};

const submit = pgQuery.prototype.submit;
pgQuery.prototype.submit = function (this: { text?: string; name?: string }, connection: object) {
  if (cutAt !== undefined && !cutDone && phases.length > 1 && cutAt.test(this.text ?? '')) {
    cutDone = true;
    phase = newPhase(`from the first /${cutAt.source}/`);
  }
  const k = kind(kindOf(this.text, this.name));
  k.statements += 1;
  phase.statements += 1;
  current = k;
  reading.set(connection, k);
  sentAt.set(this, [k, performance.now()]);
  try {
    return submit.call(this, connection);
  } finally {
    current = undefined;
  }
};

const send = pgConnection.prototype._send;
pgConnection.prototype._send = function (this: object, buffer: Buffer) {
  phase.sent += buffer.length;
  (current ?? kind('(outside a statement)')).sent += buffer.length;
  return send.call(this, buffer);
};

const attach = pgConnection.prototype.attachListeners;
pgConnection.prototype.attachListeners = function (this: NodeJS.EventEmitter, stream: NodeJS.EventEmitter) {
  this.on('backendKeyData', (msg: { processID: number }) => backends.set(msg.processID, 0));
  stream.on('data', (chunk: Buffer) => {
    phase.received += chunk.length;
    const k = reading.get(this);
    if (k !== undefined) k.received += chunk.length;
  });
  return attach.call(this, stream);
};

// A benchmark's progress line ends a phase: inventory's "setup: ..." line, e2e's "warm-up done".
const log = console.log.bind(console);
console.log = (...args: unknown[]) => {
  const line = args.map(String).join(' ');
  if (/^setup:|warm-?up/i.test(line)) phase = newPhase(`after "${line.slice(0, 40)}"`);
  log(...args);
};

process.on('exit', () => {
  const ends = [...phases.slice(1).map((p) => [p.nodeCpuFrom, p.pgCpuFrom]), [nodeCpu(), sampleBackends()]];
  const out: string[] = ['', 'pg traffic (pg-traffic.ts): statements, bytes sent / received, CPU'];
  phases.forEach((p, i) => {
    const [nodeTo, pgTo] = ends[i]!;
    const cpu = `CPU ms: this process ${Math.round((nodeTo! - p.nodeCpuFrom) / 1000)}, Postgres backends ${Math.round((pgTo! - p.pgCpuFrom) / 1000)}`;
    out.push(`${p.name}: ${p.statements} statements, ${p.sent} B sent, ${p.received} B received; ${cpu}`);
    const top = [...p.kinds.entries()].sort(([, a], [, b]) => b.sent - a.sent).slice(0, 12);
    for (const [label, k] of top)
      out.push(
        `  ${String(k.statements).padStart(7)} x ${String(Math.round(k.sent / Math.max(1, k.statements))).padStart(6)} B sent, ${String(Math.round(k.received / Math.max(1, k.statements))).padStart(6)} B recv, ${(k.millis / Math.max(1, k.statements)).toFixed(2).padStart(6)} ms  ${label}`,
      );
  });
  process.stderr.write(`${out.join('\n')}\n`);
});
