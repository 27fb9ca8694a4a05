import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { FieldDescriptorProto_Type, FileDescriptorProtoSchema, FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { describe, expect, it } from 'vitest';
import { DescriptorIndex } from './descriptors.ts';

// a.proto <- b.proto <- c.proto, with nested types, a service and extensions (proto2 style).
const set = create(FileDescriptorSetSchema, {
  file: [
    {
      name: 'x/a.proto',
      package: 'x.a',
      messageType: [{ name: 'Base', extensionRange: [{ start: 100, end: 200 }] }],
    },
    {
      name: 'x/b.proto',
      package: 'x.b',
      dependency: ['x/a.proto'],
      messageType: [
        {
          name: 'Outer',
          field: [{ name: 'id', number: 1, type: FieldDescriptorProto_Type.STRING }],
          nestedType: [{ name: 'Inner' }],
          enumType: [{ name: 'Kind' }],
          extension: [{ name: 'nested_ext', number: 150, extendee: '.x.a.Base', type: FieldDescriptorProto_Type.INT32 }],
        },
      ],
      extension: [{ name: 'top_ext', number: 101, extendee: '.x.a.Base', type: FieldDescriptorProto_Type.STRING }],
    },
    {
      name: 'x/c.proto',
      package: 'x.c',
      dependency: ['x/b.proto', 'x/a.proto'],
      service: [{ name: 'CService', method: [{ name: 'Do', inputType: '.x.b.Outer', outputType: '.x.b.Outer' }] }],
    },
  ],
});
const index = new DescriptorIndex(toBinary(FileDescriptorSetSchema, set));
const names = (files: Buffer[] | undefined): string[] | undefined =>
  files?.map((bytes) => fromBinary(FileDescriptorProtoSchema, bytes).name);

describe('DescriptorIndex', () => {
  it('lists every file of the set', () => {
    expect(index.fileNames).toEqual(['x/a.proto', 'x/b.proto', 'x/c.proto']);
  });

  it('returns a file with its transitive imports, each once', () => {
    expect(names(index.fileWithDependencies('x/c.proto'))).toEqual(['x/c.proto', 'x/b.proto', 'x/a.proto']);
    expect(names(index.fileWithDependencies('x/a.proto'))).toEqual(['x/a.proto']);
    expect(index.fileWithDependencies('x/none.proto')).toBeUndefined();
  });

  it.each([
    ['x.c.CService', 'x/c.proto'],
    ['x.c.CService.Do', 'x/c.proto'],
    ['x.b.Outer', 'x/b.proto'],
    ['.x.b.Outer', 'x/b.proto'],
    ['x.b.Outer.Inner', 'x/b.proto'],
    ['x.b.Outer.Kind', 'x/b.proto'],
    ['x.b.Outer.id', 'x/b.proto'],
    ['x.b.top_ext', 'x/b.proto'],
    ['x.b.Outer.nested_ext', 'x/b.proto'],
    ['x.a.Base', 'x/a.proto'],
  ])('finds the file declaring %s', (symbol, file) => {
    expect(index.fileContainingSymbol(symbol)).toBe(file);
  });

  it('does not invent symbols', () => {
    expect(index.fileContainingSymbol('x.b.Inner')).toBeUndefined();
    expect(index.fileContainingSymbol('x.c')).toBeUndefined();
  });

  it('indexes extensions by extendee and number', () => {
    expect(index.fileContainingExtension('x.a.Base', 101)).toBe('x/b.proto');
    expect(index.fileContainingExtension('.x.a.Base', 150)).toBe('x/b.proto');
    expect(index.fileContainingExtension('x.a.Base', 102)).toBeUndefined();
    expect(index.extensionNumbersOf('x.a.Base')).toEqual([101, 150]);
    expect(index.extensionNumbersOf('x.b.Outer')).toEqual([]);
  });

  it('keeps the bytes of each file exactly as the set held them', () => {
    const original = set.file[1]!;
    expect(index.fileWithDependencies('x/b.proto')?.[0]).toEqual(Buffer.from(toBinary(FileDescriptorProtoSchema, original)));
  });
});
