export type * from './types.ts';
export { IO_LIMIT_NAMES, UNLIMITED_IO } from './types.ts';
export { LibvirtTelemetry, type LibvirtTelemetryOptions } from './libvirt.ts';
export { SimMemoryModel, defaultWorkload, type WorkloadCurve, type SimMemoryModelOptions, type SimIoPolicy } from './simulator.ts';
export {
  parseGuestDomstats,
  parseNodeMemStats,
  parseNodeCpuStats,
  parseNodeMemoryTune,
  parseMeminfo,
  parseSchedinfo,
  parseDomblklist,
  parseBlkdeviotune,
} from './parse.ts';
export { HostFileStats, LocalHostStats, SshHostStats, sshTargetOf, parseHostFiles, type HostFiles, type SshTarget } from './local.ts';
