/**
 * Property-based inputs for any protobuf message, derived from its descriptor (the buf image the
 * services serve for reflection), never written per message: `messageArbitrary(desc)` gives random
 * messages as binary, with the values that break parsers most often (empty, huge, negative,
 * NaN, unknown enum numbers, deep nesting); `mutationArbitrary(bytes)` damages valid encodings
 * (flipped, truncated, inserted, repeated bytes, over-long varints). Used by test/fuzz-grpc.e2e.spec.ts.
 */
import { readFileSync } from 'node:fs';
import {
  create,
  createFileRegistry,
  fromBinary,
  toBinary,
  ScalarType,
  type DescField,
  type DescMessage,
  type DescService,
  type FileRegistry,
} from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import fc from 'fast-check';

/** Every file, message and service of a FileDescriptorSet (the buf image includes imports). */
export function descriptorRegistry(path: string): FileRegistry {
  return createFileRegistry(fromBinary(FileDescriptorSetSchema, readFileSync(path)));
}

/** The services of the registry whose full name starts with `prefix` (e.g. `berth.`). */
export function servicesOf(registry: FileRegistry, prefix: string): DescService[] {
  const out: DescService[] = [];
  for (const file of registry.files) for (const s of file.services) if (s.typeName.startsWith(prefix)) out.push(s);
  return out;
}

const INT32_EDGES = [0, 1, -1, 2 ** 31 - 1, -(2 ** 31)];
const UINT32_EDGES = [0, 1, 2 ** 32 - 1];
const INT64_EDGES = [0n, 1n, -1n, 2n ** 53n, 2n ** 63n - 1n, -(2n ** 63n)];
const UINT64_EDGES = [0n, 1n, 2n ** 53n + 1n, 2n ** 64n - 1n];
const STRING_EDGES = [
  '',
  ' ',
  '\u0000',
  'x'.repeat(5000),
  '../../etc/passwd',
  '-1',
  '1e309',
  'NaN',
  'dddd:bb:ss.f',
  '\uFFFD\u202E',
  'a'.repeat(64),
];

const oneOfValues = <T>(values: readonly T[], other: fc.Arbitrary<T>): fc.Arbitrary<T> =>
  fc.oneof({ arbitrary: fc.constantFrom(...values), weight: 1 }, { arbitrary: other, weight: 2 });

function scalarArbitrary(t: ScalarType): fc.Arbitrary<unknown> {
  switch (t) {
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return oneOfValues([0, -0, Number.NaN, Infinity, -Infinity, 1e308, -1], fc.double());
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return oneOfValues(INT32_EDGES, fc.integer({ min: -1000, max: 100_000 }));
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return oneOfValues(UINT32_EDGES, fc.integer({ min: 0, max: 100_000 }));
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return oneOfValues(INT64_EDGES, fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }));
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return oneOfValues(UINT64_EDGES, fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }));
    case ScalarType.BOOL:
      return fc.boolean();
    case ScalarType.STRING:
      return oneOfValues(STRING_EDGES, fc.string({ maxLength: 40, unit: 'grapheme' }));
    case ScalarType.BYTES:
      return fc.uint8Array({ maxLength: 64 });
    default:
      throw new Error(`unknown scalar type ${String(t)}`);
  }
}

type Kind =
  | { readonly kind: 'scalar'; readonly scalar: ScalarType }
  | { readonly kind: 'enum'; readonly numbers: readonly number[] }
  | { readonly kind: 'message'; readonly message: DescMessage };

function valueArbitrary(k: Kind, depth: number): fc.Arbitrary<unknown> {
  if (k.kind === 'scalar') return scalarArbitrary(k.scalar);
  if (k.kind === 'enum') return oneOfValues(k.numbers, fc.integer({ min: -2, max: 1000 }));
  return initArbitrary(k.message, depth + 1);
}

function kindOf(f: DescField): Kind {
  switch (f.fieldKind) {
    case 'scalar':
      return { kind: 'scalar', scalar: f.scalar };
    case 'enum':
      return { kind: 'enum', numbers: f.enum.values.map((v) => v.number) };
    case 'message':
      return { kind: 'message', message: f.message };
    case 'list':
      if (f.listKind === 'scalar') return { kind: 'scalar', scalar: f.scalar };
      if (f.listKind === 'enum') return { kind: 'enum', numbers: f.enum.values.map((v) => v.number) };
      return { kind: 'message', message: f.message };
    case 'map':
      if (f.mapKind === 'scalar') return { kind: 'scalar', scalar: f.scalar };
      if (f.mapKind === 'enum') return { kind: 'enum', numbers: f.enum.values.map((v) => v.number) };
      return { kind: 'message', message: f.message };
  }
}

const MAX_DEPTH = 4;

function fieldArbitrary(f: DescField, depth: number): fc.Arbitrary<unknown> {
  const item = valueArbitrary(kindOf(f), depth);
  if (f.fieldKind === 'list') return fc.array(item, { maxLength: depth >= 2 ? 2 : 4 });
  if (f.fieldKind === 'map') {
    const key = scalarArbitrary(f.mapKey).map((k) => (typeof k === 'bigint' ? String(k) : k));
    return fc.array(fc.tuple(key, item), { maxLength: 3 }).map((entries) => Object.fromEntries(entries as [PropertyKey, unknown][]));
  }
  return item;
}

/** A message init object for `create(desc, …)`: each field absent or random; one case of each oneof. */
export function initArbitrary(desc: DescMessage, depth = 0): fc.Arbitrary<Record<string, unknown>> {
  if (depth > MAX_DEPTH) return fc.constant({});
  const parts: Record<string, fc.Arbitrary<unknown>> = {};
  for (const f of desc.fields) {
    if (f.oneof !== undefined) continue;
    parts[f.localName] = fc.option(fieldArbitrary(f, depth), { nil: undefined, freq: 3 });
  }
  for (const o of desc.oneofs) {
    const cases = o.fields.map((f) => fieldArbitrary(f, depth).map((value) => ({ case: f.localName, value })));
    parts[o.localName] = fc.option(fc.oneof(...cases), { nil: undefined, freq: 3 });
  }
  return fc.record(parts).map((r) => Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined)));
}

/** Random valid encodings of `desc`, each with the init object it was made from. */
export function messageArbitrary(desc: DescMessage): fc.Arbitrary<{ readonly init: Record<string, unknown>; readonly bytes: Uint8Array }> {
  return initArbitrary(desc).map((init) => ({ init, bytes: toBinary(desc, create(desc, init)) }));
}

/** Damaged copies of `bytes`: the wire format a buggy or hostile client sends. */
export function mutationArbitrary(bytes: Uint8Array): fc.Arbitrary<Uint8Array> {
  const n = bytes.length;
  const at = fc.integer({ min: 0, max: Math.max(0, n) });
  const splice = (pos: number, del: number, ins: Uint8Array): Uint8Array => {
    const p = Math.min(pos, n);
    return Uint8Array.from([...bytes.subarray(0, p), ...ins, ...bytes.subarray(Math.min(n, p + del))]);
  };
  return fc.oneof(
    at.chain((i) => fc.integer({ min: 0, max: 255 }).map((b) => splice(i, 1, Uint8Array.of(b)))), // one byte replaced
    at.map((i) => bytes.slice(0, i)), // truncated
    fc.tuple(at, fc.uint8Array({ minLength: 1, maxLength: 16 })).map(([i, ins]) => splice(i, 0, ins)), // bytes inserted
    fc.tuple(at, at).map(([i, j]) => splice(Math.max(i, j), 0, bytes.slice(Math.min(i, j), Math.max(i, j)))), // a slice repeated
    at.map((i) => splice(i, 0, Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01))), // over-long varint
    fc.tuple(at, fc.integer({ min: 1, max: 5 })).map(([i, f]) => splice(i, 0, Uint8Array.of((f << 3) | 2, 0xff, 0xff, 0x03))), // length past the end
    fc.uint8Array({ maxLength: 64 }), // noise
  );
}
