import { readFileSync } from 'node:fs';
import { ValidationError, Violations } from '@berth/errors';
import type { ConsumerTuning } from '@berth/config';

export interface StreamDefinition {
  readonly name: string;
  readonly description?: string;
  readonly subjects: readonly string[];
  readonly storage: 'file' | 'memory';
  readonly retention: 'limits' | 'workqueue' | 'interest';
  readonly maxAgeMillis: number;
  readonly duplicateWindowMillis: number;
}

export interface KvDefinition {
  readonly bucket: string;
  readonly description?: string;
  readonly history: number;
  readonly storage: 'file' | 'memory';
  /**
   * `async`: a put is acknowledged before it is synced to disk, whatever the server's `sync_interval`
   * (NATS >= 2.12, `persist_mode`; older servers sync as they are set). For buckets that are views a
   * service rebuilds from its own log, where a put lost with the server costs nothing the writer does
   * not put again. Set when the bucket is created: an existing bucket keeps its mode.
   */
  readonly persistMode?: 'default' | 'async';
}

export interface NatsDefinitions {
  readonly streams: readonly StreamDefinition[];
  readonly kv: readonly KvDefinition[];
}

export interface ConsumerDefinition {
  readonly durable: string;
  readonly stream: string;
  readonly filterSubject: string;
  readonly maxDeliver: number;
  readonly ackWaitMillis: number;
  readonly backoffMillis: readonly number[];
  /** How long each pull request lasts on the server (startConsumer's default when absent). */
  readonly expiresMillis?: number;
}

export const STREAMS_FILE = new URL('../../../infra/nats/streams.json', import.meta.url);
export const CONSUMERS_FILE = new URL('../../../infra/nats/consumers.json', import.meta.url);

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStr = (v: unknown): v is string => typeof v === 'string' && v.length > 0;
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;

/** Validates the JSON of infra/nats/streams.json, naming every bad field. */
export function parseNatsDefinitions(json: unknown): NatsDefinitions {
  const v = new Violations();
  if (!isObj(json)) throw new ValidationError({ field: '$', reason: 'must be an object' });
  const streams = Array.isArray(json['streams']) ? json['streams'] : [];
  const kv = Array.isArray(json['kv']) ? json['kv'] : [];
  v.check(Array.isArray(json['streams']), 'streams', 'must be an array');
  streams.forEach((s: unknown, i) => {
    const f = `streams[${i}]`;
    if (!isObj(s)) return void v.add(f, 'must be an object');
    v.check(isStr(s['name']) && /^[A-Za-z0-9_-]+$/.test(s['name']), `${f}.name`, 'must be a stream name ([A-Za-z0-9_-]+)');
    v.check(
      Array.isArray(s['subjects']) && s['subjects'].length > 0 && s['subjects'].every(isStr),
      `${f}.subjects`,
      'must be a non-empty array of subjects',
    );
    v.check(s['storage'] === 'file' || s['storage'] === 'memory', `${f}.storage`, 'must be "file" or "memory"');
    v.check(
      ['limits', 'workqueue', 'interest'].includes(s['retention'] as string),
      `${f}.retention`,
      'must be limits, workqueue or interest',
    );
    v.check(isNum(s['maxAgeMillis']), `${f}.maxAgeMillis`, 'must be a number >= 0');
    v.check(isNum(s['duplicateWindowMillis']) && s['duplicateWindowMillis'] > 0, `${f}.duplicateWindowMillis`, 'must be a number > 0');
  });
  kv.forEach((b: unknown, i) => {
    const f = `kv[${i}]`;
    if (!isObj(b)) return void v.add(f, 'must be an object');
    v.check(isStr(b['bucket']) && /^[A-Za-z0-9_-]+$/.test(b['bucket']), `${f}.bucket`, 'must be a bucket name ([A-Za-z0-9_-]+)');
    v.check(isNum(b['history']) && b['history'] >= 1 && b['history'] <= 64, `${f}.history`, 'must be 1..64');
    v.check(b['storage'] === 'file' || b['storage'] === 'memory', `${f}.storage`, 'must be "file" or "memory"');
    v.check(
      b['persistMode'] === undefined || b['persistMode'] === 'default' || b['persistMode'] === 'async',
      `${f}.persistMode`,
      'must be "default" or "async" when present',
    );
  });
  v.throwIfAny();
  return { streams: streams as StreamDefinition[], kv: kv as KvDefinition[] };
}

export function loadNatsDefinitions(file: URL | string = STREAMS_FILE): NatsDefinitions {
  return parseNatsDefinitions(JSON.parse(readFileSync(file, 'utf8')));
}

/**
 * The named consumer from infra/nats/consumers.json, with the service's tuning of that durable (if
 * any) over it, to spread into `startConsumer`.
 */
export function consumerDefinition(
  durable: string,
  tuning: Readonly<Record<string, ConsumerTuning>> | undefined = undefined,
  file: URL | string = CONSUMERS_FILE,
): ConsumerDefinition {
  const json = JSON.parse(readFileSync(file, 'utf8')) as { consumers?: ConsumerDefinition[] };
  const found = json.consumers?.find((c) => c.durable === durable);
  if (found === undefined) throw new ValidationError({ field: 'durable', reason: `no consumer "${durable}" in ${String(file)}` });
  return { ...found, ...tuning?.[durable] };
}
