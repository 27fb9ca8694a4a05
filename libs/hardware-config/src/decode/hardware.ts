import { joinKey } from '../errors.ts';
import type { HNode } from '../hocon/nodes.ts';
import type { CostFunctionSpec, CurveSpec, HardwareProfile, ProfileDevice } from '../model.ts';
import { readCanonicalPciAddress } from '@berth/config/units';
import { decodeCurve } from './curve.ts';
import { asBytes, asInt, asNonEmptyString, asNumber, asObject, asString, checkKnown, fail, optional, required } from './read.ts';

const COST_FUNCTION_KEYS = ['name', 'description', 'vms', 'vcpus', 'memory', 'devices', 'scale', 'offset'];
const PROFILE_KEYS = ['name', 'description', 'cores', 'memory', 'devices', 'cost-function'];

export function decodeCostFunction(id: string, node: HNode, key: string): CostFunctionSpec {
  const obj = asObject(node, key, 'a cost function object');
  checkKnown(obj, key, COST_FUNCTION_KEYS);
  const devices: Record<string, CurveSpec> = {};
  const devicesNode = obj.fields.get('devices');
  if (devicesNode !== undefined) {
    const devicesKey = joinKey(key, 'devices');
    for (const [type, curve] of asObject(devicesNode, devicesKey, 'a map of device type to curve').fields) {
      devices[type] = decodeCurve(curve, joinKey(devicesKey, type));
    }
  }
  const vms = optional(obj, key, 'vms', decodeCurve);
  const vcpus = optional(obj, key, 'vcpus', decodeCurve);
  const memory = optional(obj, key, 'memory', decodeCurve);
  return {
    id,
    name: optional(obj, key, 'name', asString) ?? id,
    description: optional(obj, key, 'description', asString) ?? '',
    ...(vms && { vms }),
    ...(vcpus && { vcpus }),
    ...(memory && { memory }),
    devices,
    scale: optional(obj, key, 'scale', asNumber) ?? 1,
    offset: optional(obj, key, 'offset', asNumber) ?? 0,
  };
}

function decodeDevice(node: HNode, key: string): ProfileDevice {
  const obj = asObject(node, key, 'a device ({ type: "...", addr: "02:03.0" })');
  checkKnown(obj, key, ['type', 'addr', 'address']);
  const addrName = obj.fields.has('address') ? 'address' : 'addr';
  const addrKey = joinKey(key, addrName);
  const addrNode = required(obj, key, addrName);
  const address = readCanonicalPciAddress(asString(addrNode, addrKey));
  if (!address.ok) return fail(addrNode, addrKey, address.reason);
  return { type: asNonEmptyString(required(obj, key, 'type'), joinKey(key, 'type')), address: address.value };
}

export function decodeProfile(id: string, node: HNode, key: string, costFunctions: ReadonlySet<string>): HardwareProfile {
  const obj = asObject(node, key, 'a hardware profile object');
  checkKnown(obj, key, PROFILE_KEYS);
  const devicesNode = obj.fields.get('devices');
  const devicesKey = joinKey(key, 'devices');
  if (devicesNode !== undefined && devicesNode.kind !== 'array') fail(devicesNode, devicesKey, 'expected a list of devices');
  const devices = devicesNode?.items.map((d, n) => decodeDevice(d, `${devicesKey}[${n}]`)) ?? [];
  const seen = new Map<string, number>();
  devices.forEach((d, n) => {
    const first = seen.get(d.address);
    if (first !== undefined)
      fail(devicesNode!.items[n]!, `${devicesKey}[${n}]`, `address ${d.address} is listed twice (also at devices[${first}])`);
    seen.set(d.address, n);
  });
  const cfKey = joinKey(key, 'cost-function');
  const cfNode = required(obj, key, 'cost-function');
  const costFunction = asNonEmptyString(cfNode, cfKey);
  if (!costFunctions.has(costFunction)) {
    const known = [...costFunctions].join(', ') || 'none defined';
    fail(cfNode, cfKey, `unknown cost function "${costFunction}" (defined: ${known})`);
  }
  return {
    id,
    name: optional(obj, key, 'name', asString) ?? id,
    description: optional(obj, key, 'description', asString) ?? '',
    cores: asInt(required(obj, key, 'cores'), joinKey(key, 'cores'), 1),
    memoryBytes: asBytes(required(obj, key, 'memory'), joinKey(key, 'memory')),
    devices,
    costFunction,
  };
}
