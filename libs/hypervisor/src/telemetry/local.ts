import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { parseMeminfo } from './parse.ts';

const read = (path: string): Promise<string | undefined> => readFile(path, 'utf8').catch(() => undefined);

const KSM_FILES = [
  'run',
  'pages_to_scan',
  'sleep_millisecs',
  'pages_shared',
  'pages_sharing',
  'pages_unshared',
  'pages_volatile',
  'full_scans',
  'merge_across_nodes',
];

/** What MOM's host collectors read on the host: /proc/meminfo, /proc/vmstat, /sys/kernel/mm/ksm/*, ksmd's /proc/<pid>/stat. */
export interface HostFiles {
  readonly meminfo?: string;
  readonly vmstat?: string;
  /** By file name (`run`, `pages_to_scan`, ...); absent when unreadable. */
  readonly ksm: ReadonlyMap<string, string>;
  readonly ksmdStat?: string;
}

/**
 * The statistics MOM's host collectors (HostMemory, HostKSM) take from the host itself and libvirt
 * does not report: swap and anonymous memory (/proc/meminfo), swap traffic since the last sample
 * (/proc/vmstat), KSM's sysfs files and ksmd's CPU use. Where the files come from is the reader's:
 * this machine (`LocalHostStats`), or a libvirt host reached over SSH (`SshHostStats`).
 */
export class HostFileStats {
  private lastVmstat: { in: number; out: number } | undefined;
  private lastKsmd: { ticks: number; at: number } | undefined;

  constructor(private readonly files: () => Promise<HostFiles>) {}

  async sample(): Promise<Record<string, number>> {
    const f = await this.files();
    const out: Record<string, number> = f.meminfo !== undefined ? parseMeminfo(f.meminfo) : {};
    for (const name of KSM_FILES) {
      const n = Number(f.ksm.get(name)?.trim() ?? NaN);
      if (Number.isFinite(n)) out[`ksm_${name}`] = n;
    }
    if (f.vmstat !== undefined) {
      const pin = Number(/^pswpin (\d+)$/m.exec(f.vmstat)?.[1] ?? NaN);
      const pout = Number(/^pswpout (\d+)$/m.exec(f.vmstat)?.[1] ?? NaN);
      if (Number.isFinite(pin) && Number.isFinite(pout)) {
        // MOM's swap_in/swap_out: pages swapped since the previous collection.
        out['swap_in'] = this.lastVmstat ? Math.max(0, pin - this.lastVmstat.in) : 0;
        out['swap_out'] = this.lastVmstat ? Math.max(0, pout - this.lastVmstat.out) : 0;
        this.lastVmstat = { in: pin, out: pout };
      }
    }
    const ksmd = f.ksmdStat !== undefined ? this.ksmdUsage(f.ksmdStat) : undefined;
    if (ksmd !== undefined) out['ksmd_cpu_usage'] = ksmd;
    return out;
  }

  /** ksmd's CPU use in percent of one CPU since the last sample (0 on the first). */
  private ksmdUsage(stat: string): number | undefined {
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]); // utime + stime (fields 14 and 15 of stat)
    if (!Number.isFinite(ticks)) return undefined;
    const now = Date.now();
    const last = this.lastKsmd;
    this.lastKsmd = { ticks, at: now };
    if (!last || now <= last.at) return 0;
    return Math.round(((ticks - last.ticks) / 100 / ((now - last.at) / 1000)) * 1000) / 10;
  }
}

/** MOM's host files of this machine (a libvirt URI without a host: `qemu:///system`, `qemu+unix:///...`). */
export class LocalHostStats extends HostFileStats {
  constructor(proc = '/proc', sys = '/sys') {
    let ksmdPid: string | null | undefined;
    super(async () => {
      if (ksmdPid === undefined) {
        ksmdPid = null;
        for (const pid of (await readdir(proc).catch(() => [])).filter((p) => /^\d+$/.test(p))) {
          if ((await read(`${proc}/${pid}/comm`))?.trim() === 'ksmd') {
            ksmdPid = pid;
            break;
          }
        }
      }
      const [meminfo, vmstat, ksmdStat, ...ksm] = await Promise.all([
        read(`${proc}/meminfo`),
        read(`${proc}/vmstat`),
        ksmdPid !== null ? read(`${proc}/${ksmdPid}/stat`) : Promise.resolve(undefined),
        ...KSM_FILES.map((f) => read(`${sys}/kernel/mm/ksm/${f}`)),
      ]);
      const files = new Map<string, string>();
      KSM_FILES.forEach((f, i) => void (ksm[i] !== undefined && files.set(f, ksm[i])));
      return {
        ...(meminfo !== undefined ? { meminfo } : {}),
        ...(vmstat !== undefined ? { vmstat } : {}),
        ...(ksmdStat !== undefined ? { ksmdStat } : {}),
        ksm: files,
      };
    });
  }
}

/** How libvirt reaches a `qemu+ssh://[user@]host[:port]/...` URI: the same user, host, port and key reach the host's files. */
export interface SshTarget {
  readonly host: string;
  readonly port?: number;
  readonly user?: string;
  readonly keyfile?: string;
  /** libvirt's `no_verify=1`: the host key is not checked. */
  readonly noVerify: boolean;
}

/**
 * The SSH target of a libvirt URI over SSH (`qemu+ssh://`, `qemu+libssh://`, `qemu+libssh2://`) or of a
 * plain `ssh://[user@]host[:port][?keyfile=PATH&no_verify=1]` endpoint, else undefined.
 */
export function sshTargetOf(uri: string): SshTarget | undefined {
  let u: URL;
  try {
    u = new URL(uri);
  } catch {
    return undefined;
  }
  if (!/^([a-z]+\+(ssh|libssh|libssh2)|ssh):$/.test(u.protocol) || u.hostname === '') return undefined;
  const keyfile = u.searchParams.get('keyfile');
  return {
    host: u.hostname.replace(/^\[|\]$/g, ''),
    ...(u.port !== '' ? { port: Number(u.port) } : {}),
    ...(u.username !== '' ? { user: decodeURIComponent(u.username) } : {}),
    ...(keyfile !== null ? { keyfile } : {}),
    noVerify: u.searchParams.get('no_verify') === '1',
  };
}

const MARK = '@@berth-host-file ';

/** One `sh` script on the host printing every file MOM's host collectors read, each after a marker line. */
const SCRIPT = [
  `for f in ${KSM_FILES.join(' ')}; do [ -r /sys/kernel/mm/ksm/$f ] && { echo "${MARK}ksm/$f"; cat /sys/kernel/mm/ksm/$f; }; done`,
  `echo "${MARK}meminfo"; cat /proc/meminfo`,
  `echo "${MARK}vmstat"; cat /proc/vmstat`,
  `p=$(pidof ksmd 2>/dev/null || pgrep -x ksmd 2>/dev/null); [ -n "$p" ] && { echo "${MARK}ksmd"; cat /proc/$p/stat; }`,
  'true',
].join('\n');

/** Splits the script's output into files by marker. */
export function parseHostFiles(text: string): HostFiles {
  const parts = new Map<string, string>();
  let name: string | undefined;
  let lines: string[] = [];
  const flush = (): void => void (name !== undefined && parts.set(name, lines.join('\n')));
  for (const line of text.split('\n')) {
    if (line.startsWith(MARK)) {
      flush();
      name = line.slice(MARK.length).trim();
      lines = [];
    } else lines.push(line);
  }
  flush();
  const ksm = new Map<string, string>();
  for (const [k, v] of parts) if (k.startsWith('ksm/')) ksm.set(k.slice(4), v);
  const meminfo = parts.get('meminfo');
  const vmstat = parts.get('vmstat');
  const ksmdStat = parts.get('ksmd');
  return {
    ...(meminfo !== undefined ? { meminfo } : {}),
    ...(vmstat !== undefined ? { vmstat } : {}),
    ...(ksmdStat !== undefined ? { ksmdStat } : {}),
    ksm,
  };
}

/**
 * MOM's host files of a libvirt host reached over SSH, read with one `ssh` command per sample as the
 * URI's user with its key (one multiplexed connection kept for 60 s: ControlMaster). A host whose
 * libvirt is reached over TCP or TLS offers no such channel: its samples lack what libvirt does not
 * report (swap, anon_pages, swap traffic, ksm_run, ksmd_cpu_usage).
 */
export class SshHostStats extends HostFileStats {
  constructor(target: SshTarget, opts: { timeoutMillis?: number; controlDir?: string } = {}) {
    const args = [
      '-o',
      'BatchMode=yes',
      '-o',
      'ConnectTimeout=10',
      '-o',
      'ControlMaster=auto',
      '-o',
      `ControlPath=${opts.controlDir ?? '/tmp'}/berth-ssh-%C`,
      '-o',
      'ControlPersist=60',
      ...(target.noVerify ? ['-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR'] : []),
      ...(target.port !== undefined ? ['-p', String(target.port)] : []),
      ...(target.user !== undefined ? ['-l', target.user] : []),
      ...(target.keyfile !== undefined ? ['-i', target.keyfile] : []),
      target.host,
      SCRIPT,
    ];
    super(
      () =>
        new Promise((resolve, reject) => {
          execFile('ssh', args, { timeout: opts.timeoutMillis ?? 30_000, maxBuffer: 4 * 1024 * 1024 }, (err, stdout, stderr) => {
            if (err) reject(new Error(`ssh ${target.host}: ${stderr.trim() || err.message}`));
            else resolve(parseHostFiles(stdout));
          });
        }),
    );
  }
}
