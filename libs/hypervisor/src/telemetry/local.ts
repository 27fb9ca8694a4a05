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

/**
 * What MOM's host collectors read from the host itself and libvirt does not report, for a host that
 * is this machine: swap and anonymous memory (/proc/meminfo), swap traffic since the last sample
 * (/proc/vmstat), KSM's sysfs files and ksmd's CPU use.
 */
export class LocalHostStats {
  private lastVmstat: { in: number; out: number } | undefined;
  private lastKsmd: { ticks: number; at: number } | undefined;
  private ksmdPid: string | null | undefined;

  constructor(
    private readonly proc = '/proc',
    private readonly sys = '/sys',
  ) {}

  async sample(): Promise<Record<string, number>> {
    const [meminfo, vmstat, ksm, ksmd] = await Promise.all([
      read(`${this.proc}/meminfo`),
      read(`${this.proc}/vmstat`),
      this.ksm(),
      this.ksmdUsage(),
    ]);
    const out: Record<string, number> = { ...(meminfo !== undefined ? parseMeminfo(meminfo) : {}), ...ksm };
    if (vmstat !== undefined) {
      const pin = Number(/^pswpin (\d+)$/m.exec(vmstat)?.[1] ?? NaN);
      const pout = Number(/^pswpout (\d+)$/m.exec(vmstat)?.[1] ?? NaN);
      if (Number.isFinite(pin) && Number.isFinite(pout)) {
        // MOM's swap_in/swap_out: pages swapped since the previous collection.
        out['swap_in'] = this.lastVmstat ? Math.max(0, pin - this.lastVmstat.in) : 0;
        out['swap_out'] = this.lastVmstat ? Math.max(0, pout - this.lastVmstat.out) : 0;
        this.lastVmstat = { in: pin, out: pout };
      }
    }
    if (ksmd !== undefined) out['ksmd_cpu_usage'] = ksmd;
    return out;
  }

  private async ksm(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    await Promise.all(
      KSM_FILES.map(async (f) => {
        const t = await read(`${this.sys}/kernel/mm/ksm/${f}`);
        const n = t === undefined ? NaN : Number(t.trim());
        if (Number.isFinite(n)) out[`ksm_${f}`] = n;
      }),
    );
    return out;
  }

  /** ksmd's CPU use in percent of one CPU since the last sample (0 on the first). */
  private async ksmdUsage(): Promise<number | undefined> {
    if (this.ksmdPid === undefined) {
      this.ksmdPid = null;
      for (const pid of (await readdir(this.proc).catch(() => [])).filter((p) => /^\d+$/.test(p))) {
        if ((await read(`${this.proc}/${pid}/comm`))?.trim() === 'ksmd') {
          this.ksmdPid = pid;
          break;
        }
      }
    }
    if (this.ksmdPid === null) return undefined;
    const stat = await read(`${this.proc}/${this.ksmdPid}/stat`);
    if (stat === undefined) return undefined;
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]); // utime + stime (fields 14 and 15 of stat)
    const now = Date.now();
    const last = this.lastKsmd;
    this.lastKsmd = { ticks, at: now };
    if (!last || now <= last.at) return 0;
    return Math.round(((ticks - last.ticks) / 100 / ((now - last.at) / 1000)) * 1000) / 10;
  }
}
