// The generated berth.model.v1 messages (the VM, host, claim and hardware-config model every API
// carries), as one namespace (`modelV1`). The explicit exports settle the helper names every
// generated file repeats.
export * from './gen/berth/model/v1/claim.ts';
export * from './gen/berth/model/v1/hardware_config.ts';
export * from './gen/berth/model/v1/host.ts';
export * from './gen/berth/model/v1/vm.ts';
export { protobufPackage, protobufFileName, type DeepPartial, type Exact, type MessageFns } from './gen/berth/model/v1/vm.ts';
