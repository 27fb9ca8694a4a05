export type * from './driver.ts';
export {
  HypervisorError,
  isHypervisorError,
  isTransient,
  MigrationError,
  isMigrationError,
  type HypervisorErrorKind,
  type MigrationFailure,
} from './errors.ts';
export { domainName, domainUuid, vmIdOfDomain, volumeName, assertVmId, DOMAIN_PREFIX } from './naming.ts';
export { domainSpecFromClaim, sriovNetworkName, type DomainSpec, type VmRuntimeRequest } from './domain-spec.ts';
export { parseLibvirtRealm, checkDriveSize, DEFAULT_REALM, type RealmSettings, type DriveCache } from './realm.ts';
export { buildDomainXml, type DomainXmlOptions, type VirtType } from './libvirt/domain-xml.ts';
export { LibvirtDriver, type LibvirtDriverOptions } from './libvirt/libvirt-driver.ts';
export { classifyVirshError, type RunAs } from './libvirt/virsh.ts';
export { SimulatorFleet, type SimHostConfig, type SimOperation, type SimulatorOptions } from './simulator/simulator.ts';
export { SimulatorDriver } from './simulator/simulator-driver.ts';
export { serveSimulator, type SimulatorServer, type ServeSimulatorOptions } from './simulator/remote-server.ts';
export { RemoteSimulator, RemoteSimulatorDriver } from './simulator/remote-client.ts';
export { simulatorDaemonConfig, startSimulatorDaemon, type SimulatorDaemonConfig } from './simulator/daemon.ts';
export {
  MigrationModel,
  type SimMigrationSettings,
  type SimMigrationFailure,
  type SimMigrationFailureRule,
} from './simulator/migration.ts';
export { migrateArgs, parseJobInfo } from './libvirt/migrate-args.ts';
export { LxdDriver, RECONNECTED as LXD_EVENTS_RECONNECTED, type LxdDriverOptions } from './lxd/lxd-driver.ts';
export { certificateFingerprint, type LxdCredentials } from './lxd/tls.ts';
export { enrollWithTrustToken, decodeTrustToken, type LxdTrustToken } from './lxd/trust.ts';
export { parseLxdUri, isLxdUri, type LxdEndpoint, type LxdInstanceType } from './lxd/uri.ts';
export { lxdInstanceName, lxdVolumeName, limitsCpu } from './lxd/instance.ts';
export { createDriver, DriverRegistry, type DriverFactoryOptions } from './factory.ts';
export * from './telemetry/index.ts';
