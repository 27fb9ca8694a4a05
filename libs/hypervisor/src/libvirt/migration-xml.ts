/**
 * The definition a live migration hands the destination (`virsh migrate --xml` / `--persistent-xml`):
 * the running domain's own migratable XML (so everything libvirt checks for ABI stability, the
 * devices, their addresses and MACs, stays exactly as the guest sees it), with what belongs to the
 * host and not to the guest taken from the destination's claim: vCPU pinning (`<cputune>`), the host
 * NUMA nodes guest memory is bound to (`<numatune>`) and the pools the disks live in.
 */
import type { DomainSpec } from '../domain-spec.ts';

const escapeAttr = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');

/** The `<vcpupin>` lines of the spec (empty for shared vCPUs). */
function vcpupins(spec: DomainSpec, indent: string): string {
  return spec.pinnedCpus.map((cpu, vcpu) => `${indent}<vcpupin vcpu='${vcpu}' cpuset='${cpu}'/>\n`).join('');
}

/** `<numatune>` of a pinned spec with NUMA cells (as buildDomainXml writes it), or '' when none belongs. */
function numatune(spec: DomainSpec, indent: string): string {
  if (spec.pinnedCpus.length === 0 || spec.numaCells.length === 0) return '';
  const nodes = [...new Set(spec.numaCells.map((c) => c.hostNode))].sort((a, b) => a - b);
  const cells = spec.numaCells.map((c, i) => `${indent}  <memnode cellid='${i}' mode='strict' nodeset='${c.hostNode}'/>\n`).join('');
  return `${indent}<numatune>\n${indent}  <memory mode='strict' nodeset='${nodes.join(',')}'/>\n${cells}${indent}</numatune>\n`;
}

/**
 * `xml` (the source's `dumpxml --migratable`, live or `--inactive`) with the destination's pinning,
 * NUMA binding and volume pools of `spec`. The guest's NUMA cells, vCPU count, memory and devices are
 * left as they are: they are the guest's ABI, and the destination claim has the same shape.
 */
export function retargetDomainXml(xml: string, spec: DomainSpec): string {
  let out = xml;
  // <cputune>: the vcpupin lines replaced (other tuning, which Berth does not write, is kept).
  const tune = /^([ \t]*)<cputune>\n([\s\S]*?)^[ \t]*<\/cputune>\n/m.exec(out);
  if (tune) {
    const indent = tune[1] ?? '';
    const rest = (tune[2] ?? '').replace(/^[ \t]*<vcpupin\b[^>]*\/>\n/gm, '');
    const pins = vcpupins(spec, `${indent}  `);
    const block = pins === '' && rest === '' ? '' : `${indent}<cputune>\n${pins}${rest}${indent}</cputune>\n`;
    out = out.slice(0, tune.index) + block + out.slice(tune.index + tune[0].length);
  } else if (spec.pinnedCpus.length > 0) {
    out = out.replace(/^([ \t]*)(<vcpu\b[^>]*>[^<]*<\/vcpu>\n)/m, (_m, indent: string, vcpu: string) => {
      return `${indent}${vcpu}${indent}<cputune>\n${vcpupins(spec, `${indent}  `)}${indent}</cputune>\n`;
    });
  }
  // <numatune>: replaced whole, or added after <cputune> / <vcpu>.
  const numa = /^([ \t]*)<numatune>\n[\s\S]*?^[ \t]*<\/numatune>\n/m.exec(out);
  if (numa) {
    out = out.slice(0, numa.index) + numatune(spec, numa[1] ?? '') + out.slice(numa.index + numa[0].length);
  } else if (numatune(spec, '') !== '') {
    const after = /^([ \t]*)<\/cputune>\n/m.exec(out) ?? /^([ \t]*)<vcpu\b[^>]*>[^<]*<\/vcpu>\n/m.exec(out);
    if (after) {
      const at = after.index + after[0].length;
      out = out.slice(0, at) + numatune(spec, after[1] ?? '') + out.slice(at);
    }
  }
  // Disks: each volume Berth created is found by its name and given the destination's pool.
  const pools = new Map(spec.volumes.map((v) => [v.name, v.pool]));
  out = out.replace(
    /<source pool=(['"])([^'"]*)\1 volume=(['"])([^'"]*)\3/g,
    (whole, q1: string, _pool: string, q2: string, vol: string) => {
      const pool = pools.get(vol);
      return pool === undefined ? whole : `<source pool=${q1}${escapeAttr(pool)}${q1} volume=${q2}${vol}${q2}`;
    },
  );
  return out;
}

/** The `(pool, volume)` of every disk in a domain's XML that Berth named after the domain (`<domain>-disk<i>`). */
export function berthVolumesOf(xml: string, domain: string): { pool: string; name: string }[] {
  return [...xml.matchAll(/<source pool=(['"])([^'"]*)\1 volume=(['"])([^'"]*)\3/g)]
    .map((m) => ({ pool: m[2] ?? '', name: m[4] ?? '' }))
    .filter((v) => v.name.startsWith(`${domain}-disk`));
}
