export {
  startTestLibvirtd,
  startSessionLibvirtd,
  libvirtAvailable,
  libvirtUsable,
  qemuUsable,
  type TestLibvirtd,
  type SessionLibvirtd,
  type SessionLibvirtdOptions,
} from './libvirtd.ts';
export { startMigrationPair, writeMemoryBlob, withPreloadedMemory, type MigrationPair } from './migration-pair.ts';
export * from './lxd.ts';
export { guestKernel, type GuestKernel } from './guest-kernel.ts';
export { startSystemLibvirtd, type SystemLibvirtd } from './system-libvirtd.ts';
export { startTestSshd, sshdAvailable, type TestSshd } from './sshd.ts';
