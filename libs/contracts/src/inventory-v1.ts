// The generated berth.inventory.v1 messages and service, as one namespace (`inventoryV1`); the
// shared model they carry (VmSpec, HostSpec, Claim, ...) is `modelV1`.
// The explicit exports settle the helper names every generated file repeats.
export * from './gen/berth/inventory/v1/host.ts';
export * from './gen/berth/inventory/v1/vm.ts';
export * from './gen/berth/inventory/v1/inventory_service.ts';
export {
  protobufPackage,
  protobufFileName,
  type DeepPartial,
  type Exact,
  type MessageFns,
} from './gen/berth/inventory/v1/inventory_service.ts';
export { CommandMeta } from './gen/berth/common/v1/common.ts';
