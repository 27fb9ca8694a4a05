import type { MigrateOptions, MigrationProgress } from '../driver.ts';

/** Files holding the destination's definitions (the source's migratable XML retargeted to the destination's claim). */
export interface MigrationXmlFiles {
  /** `--xml`: the definition the domain runs with on the destination. */
  readonly xmlFile?: string;
  /** `--persistent-xml`: the definition kept there (without it, the source's persistent one, with the source's pinning). */
  readonly persistentXmlFile?: string;
}

/** The `virsh migrate` arguments for a live, persistent migration that undefines the source. */
export function migrateArgs(domain: string, opts: MigrateOptions & MigrationXmlFiles, resume = false): string[] {
  const args = ['migrate', '--live', '--persistent', '--undefinesource'];
  if (opts.autoConverge) args.push('--auto-converge');
  if (opts.postCopy) args.push('--postcopy', '--postcopy-after-precopy');
  if (resume) args.push('--postcopy-resume');
  if (opts.copyStorage) args.push('--copy-storage-all');
  if (opts.bandwidthMiBps !== undefined) args.push('--bandwidth', String(Math.max(1, Math.round(opts.bandwidthMiBps))));
  if (opts.postCopy && opts.postCopyBandwidthMiBps !== undefined) {
    args.push('--postcopy-bandwidth', String(Math.max(1, Math.round(opts.postCopyBandwidthMiBps))));
  }
  args.push(domain, opts.destinationUri);
  if (opts.migrateUri !== undefined) args.push('--migrateuri', opts.migrateUri);
  if (opts.listenAddress !== undefined) args.push('--listen-address', opts.listenAddress);
  if (opts.xmlFile !== undefined) args.push('--xml', opts.xmlFile);
  if (opts.persistentXmlFile !== undefined) args.push('--persistent-xml', opts.persistentXmlFile);
  return args;
}

/**
 * `virsh domjobinfo --rawstats` -> progress, or undefined when no job runs (`Job type: None`).
 * Lines are `field: value` (libvirt 9; `field=value` accepted too). Data counts memory and disks. In the
 * job's first seconds (the destination QEMU starting) every count is still 0.
 */
export function parseJobInfo(text: string, phase: 'precopy' | 'postcopy' = 'precopy'): MigrationProgress | undefined {
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Za-z_][\w.]*)\s*[:=]\s*(.*?)\s*$/.exec(line);
    if (m?.[1] !== undefined && m[2] !== undefined) fields.set(m[1], m[2]);
  }
  // `--rawstats` prints the job type as a number (0 none, 1 bounded, 2 unbounded, 3 completed, 4 failed, 5 cancelled).
  const jobType = /^\s*Job type:\s*(\S+)/m.exec(text)?.[1];
  if (jobType !== undefined && /^(none|completed|failed|cancelled|[03-5])$/i.test(jobType)) return undefined;
  const num = (k: string): number | undefined => {
    const v = fields.get(k);
    if (v === undefined) return undefined;
    const n = Number(v);
    return Number.isFinite(n) ? n : undefined;
  };
  const total = num('data_total') ?? num('memory_total');
  if (total === undefined) return undefined;
  const processed = num('data_processed') ?? num('memory_processed') ?? 0;
  const remaining = num('data_remaining') ?? num('memory_remaining') ?? Math.max(0, total - processed);
  const dirty = num('memory_dirty_rate');
  const pageSize = num('memory_page_size');
  const iteration = num('memory_iteration');
  return {
    dataTotalBytes: total,
    dataProcessedBytes: processed,
    dataRemainingBytes: remaining,
    // libvirt reports the dirty rate in pages per second.
    ...(dirty !== undefined ? { memoryDirtyRateBytesPerSecond: dirty * (pageSize ?? 4096) } : {}),
    ...(iteration !== undefined ? { iteration } : {}),
    elapsedMillis: num('time_elapsed') ?? 0,
    phase,
  };
}
