import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fromBinary } from '@bufbuild/protobuf';
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';
import { FileDescriptorProtoSchema, type DescriptorProto, type FileDescriptorProto } from '@bufbuild/protobuf/wkt';

/** Where `npm run gen` writes the buf image (FileDescriptorSet including imports). */
export function defaultDescriptorSetPath(): string {
  const contractsIndex = createRequire(import.meta.url).resolve('@berth/contracts');
  return join(dirname(contractsIndex), 'descriptors.binpb');
}

interface IndexedFile {
  readonly name: string;
  readonly dependencies: readonly string[];
  /** The file's bytes exactly as buf wrote them; reflection answers with these. */
  readonly bytes: Buffer;
}

/**
 * Files, symbols and extensions of a FileDescriptorSet, for server reflection. Unlike
 * @grpc/reflection it answers with the requested file and all of its transitive imports.
 */
export class DescriptorIndex {
  private readonly files = new Map<string, IndexedFile>();
  private readonly symbols = new Map<string, string>();
  private readonly extensions = new Map<string, Map<number, string>>();

  static fromFile(path: string): DescriptorIndex {
    return new DescriptorIndex(readFileSync(path));
  }

  constructor(descriptorSet: Uint8Array) {
    const reader = new BinaryReader(descriptorSet);
    while (reader.pos < reader.len) {
      const [field, wireType] = reader.tag();
      if (field === 1 && wireType === WireType.LengthDelimited) this.add(reader.bytes());
      else reader.skip(wireType);
    }
  }

  get fileNames(): string[] {
    return [...this.files.keys()];
  }

  /** The named file followed by every file it imports, transitively; undefined when unknown. */
  fileWithDependencies(name: string): Buffer[] | undefined {
    if (!this.files.has(name)) return undefined;
    const out: Buffer[] = [];
    const seen = new Set<string>();
    const visit = (n: string): void => {
      const file = this.files.get(n);
      if (!file || seen.has(n)) return;
      seen.add(n);
      out.push(file.bytes);
      file.dependencies.forEach(visit);
    };
    visit(name);
    return out;
  }

  /** File declaring a fully-qualified symbol: package.Message, package.Service, package.Service.Method, ... */
  fileContainingSymbol(symbol: string): string | undefined {
    return this.symbols.get(symbol.replace(/^\./, ''));
  }

  fileContainingExtension(extendee: string, number: number): string | undefined {
    return this.extensions.get(extendee.replace(/^\./, ''))?.get(number);
  }

  extensionNumbersOf(extendee: string): number[] {
    return [...(this.extensions.get(extendee.replace(/^\./, ''))?.keys() ?? [])].sort((a, b) => a - b);
  }

  hasType(name: string): boolean {
    return this.symbols.has(name.replace(/^\./, ''));
  }

  private add(bytes: Uint8Array): void {
    const file: FileDescriptorProto = fromBinary(FileDescriptorProtoSchema, bytes);
    this.files.set(file.name, { name: file.name, dependencies: file.dependency, bytes: Buffer.from(bytes) });
    const scope = file.package ? `${file.package}.` : '';
    const define = (symbol: string): void => void this.symbols.set(symbol, file.name);
    const defineExtensions = (prefix: string, exts: FileDescriptorProto['extension']): void => {
      for (const ext of exts) {
        define(`${prefix}${ext.name}`);
        const extendee = ext.extendee.replace(/^\./, '');
        const byNumber = this.extensions.get(extendee) ?? new Map<number, string>();
        byNumber.set(ext.number, file.name);
        this.extensions.set(extendee, byNumber);
      }
    };
    const defineMessage = (prefix: string, message: DescriptorProto): void => {
      const name = `${prefix}${message.name}`;
      define(name);
      for (const field of message.field) define(`${name}.${field.name}`);
      for (const e of message.enumType) define(`${name}.${e.name}`);
      for (const nested of message.nestedType) defineMessage(`${name}.`, nested);
      defineExtensions(`${name}.`, message.extension);
    };
    for (const message of file.messageType) defineMessage(scope, message);
    for (const e of file.enumType) define(`${scope}${e.name}`);
    for (const service of file.service) {
      define(`${scope}${service.name}`);
      for (const method of service.method) define(`${scope}${service.name}.${method.name}`);
    }
    defineExtensions(scope, file.extension);
  }
}
