/**
 * The statistics MOM's collectors declare (mom/Collectors/*.py `getFields` / `getOptionalFields`).
 * A monitor's mandatory fields are the union of its collectors' mandatory ones; its optional fields
 * the union of the optional ones minus the mandatory (Monitor.collect). A sample missing a mandatory
 * field is never stored and makes the entity "not ready": a guest is left out of `Guests`, a host
 * stops the whole evaluation. Optional fields missing from a sample read as None.
 */
export interface CollectorFields {
  readonly mandatory: readonly string[];
  readonly optional: readonly string[];
}

const hostMemory = ['mem_available', 'mem_unused', 'mem_free', 'swap_in', 'swap_out', 'anon_pages', 'swap_total', 'swap_usage'];
const ksmKeys = [
  'full_scans',
  'pages_sharing',
  'pages_unshared',
  'run',
  'pages_shared',
  'pages_to_scan',
  'pages_volatile',
  'sleep_millisecs',
  'merge_across_nodes',
];
const guestMemory = ['mem_available', 'mem_unused', 'major_fault', 'minor_fault', 'swap_in', 'swap_out'];
const guestMemoryOptional = ['swap_total', 'swap_usage'];
const guestBalloon = ['balloon_cur', 'balloon_max', 'balloon_min'];
const guestIoTune = ['io_tune', 'io_tune_current'];

/**
 * Not MOM's: a libvirt host reached over TCP or TLS, whose own files cannot be read, reports what
 * libvirt reports (`nodememstats`, `node-memory-tune`, `nodecpustats`). These collectors declare the
 * statistics MOM reads from the host's files optional (None when absent, as MOM's optional fields), so
 * a policy that does not read them (the stock ones do not) runs, and one that does gets None.
 */
const hostFileStats = new Set(['swap_in', 'swap_out', 'anon_pages', 'swap_total', 'swap_usage', 'ksm_run', 'ksmd_cpu_usage']);
const fromLibvirt = (c: CollectorFields): CollectorFields => ({
  mandatory: c.mandatory.filter((f) => !hostFileStats.has(f)),
  optional: [...c.optional, ...c.mandatory.filter((f) => hostFileStats.has(f))],
});
/** vdsm's host collectors for a host whose own files cannot be read (see `HostMemoryRemote`). */
export const REMOTE_HOST_COLLECTORS = ['HostMemoryRemote', 'HostKSMRemote', 'HostCpu'] as const;
const hostMemoryFields: CollectorFields = { mandatory: hostMemory, optional: [] };
const hostKsmFields: CollectorFields = { mandatory: [...ksmKeys.map((k) => `ksm_${k}`), 'ksm_shareable', 'ksmd_cpu_usage'], optional: [] };

export const COLLECTORS: Readonly<Record<string, CollectorFields>> = {
  HostMemory: hostMemoryFields,
  HostKSM: hostKsmFields,
  HostMemoryRemote: fromLibvirt(hostMemoryFields),
  HostKSMRemote: fromLibvirt(hostKsmFields),
  HostCpu: { mandatory: ['cpu_count'], optional: [] },
  HostTime: {
    mandatory: ['time_year', 'time_month', 'time_day', 'time_hour', 'time_minute', 'time_second', 'time_microsecond'],
    optional: [],
  },
  GuestMemory: { mandatory: guestMemory, optional: guestMemoryOptional },
  GuestMemoryOptional: { mandatory: [], optional: [...guestMemory, ...guestMemoryOptional] },
  GuestBalloon: { mandatory: guestBalloon, optional: [] },
  GuestBalloonOptional: { mandatory: [], optional: guestBalloon },
  GuestCpuTune: { mandatory: ['vcpu_quota', 'vcpu_period', 'vcpu_user_limit', 'vcpu_count'], optional: [] },
  GuestIoTune: { mandatory: guestIoTune, optional: [] },
  GuestIoTuneOptional: { mandatory: [], optional: guestIoTune },
  GuestQemuProc: { mandatory: ['host_minor_faults', 'host_major_faults', 'rss'], optional: [] },
  GuestQemuAgent: {
    mandatory: ['mem_available', 'mem_unused', 'mem_free', 'major_fault', 'minor_fault', 'swap_in', 'swap_out', 'swap_total', 'swap_usage'],
    optional: [],
  },
  GuestNetworkDaemon: { mandatory: guestMemory, optional: [] },
};

/** vdsm's mom.conf (`[host] collectors`, `[guest] collectors`). */
export const VDSM_HOST_COLLECTORS = ['HostMemory', 'HostKSM', 'HostCpu'] as const;
export const VDSM_GUEST_COLLECTORS = ['GuestMemoryOptional', 'GuestBalloonOptional', 'GuestCpuTune', 'GuestIoTuneOptional'] as const;
/** MOM's and vdsm's `sample-history-length`. */
export const DEFAULT_HISTORY_LENGTH = 10;

export interface FieldSet {
  readonly mandatory: ReadonlySet<string>;
  readonly optional: ReadonlySet<string>;
  readonly valid: ReadonlySet<string>;
}

/** Throws Error naming an unknown collector. */
export function fieldsOf(collectors: readonly string[]): FieldSet {
  const mandatory = new Set<string>();
  const optional = new Set<string>();
  for (const name of collectors) {
    const c = COLLECTORS[name];
    if (c === undefined) throw new Error(`unknown collector '${name}' (known: ${Object.keys(COLLECTORS).join(', ')})`);
    for (const f of c.mandatory) mandatory.add(f);
    for (const f of c.optional) optional.add(f);
  }
  for (const f of mandatory) optional.delete(f);
  return { mandatory, optional, valid: new Set([...mandatory, ...optional]) };
}
