/**
 * Hypervisor connection URIs Berth accepts (libvirt's forms, an LXD endpoint, the simulator).
 * Returns the reason a URI is refused, or undefined when it is fine.
 */
const hostPart = String.raw`(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*|\[[0-9a-f:.]+\])`;
const port = String.raw`(?::(?<port>\d{1,5}))?`;
const user = String.raw`(?:[a-z_][a-z0-9_.-]*@)?`;
const query = String.raw`(?:\?[a-z_]+=[^&\s]*(?:&[a-z_]+=[^&\s]*)*)?`;

// LXD host options (libs/hypervisor/src/lxd/uri.ts): a pinned server fingerprint, the instance type, the image, the project.
const lxdOption = String.raw`(?:fingerprint=(?:[0-9a-f]{2}:?){31}[0-9a-f]{2}|instance-type=(?:virtual-machine|container)|image=[\w.:-]+|project=[\w.-]+)`;
const lxdQuery = String.raw`(?:\?${lxdOption}(?:&${lxdOption})*)?`;

interface Form {
  readonly name: string;
  readonly pattern: RegExp;
}

const re = (s: string): RegExp => new RegExp(`^${s}$`, 'i');

const forms: readonly Form[] = [
  { name: 'qemu:///system|session', pattern: re(`qemu:///(?:system|session)${query}`) },
  { name: 'qemu+unix:///system|session', pattern: re(`qemu\\+unix:///(?:system|session)${query}`) },
  { name: 'qemu+ssh://[user@]host[:port]/system', pattern: re(`qemu\\+ssh://${user}${hostPart}${port}/(?:system|session)${query}`) },
  { name: 'qemu+tls://host[:port]/system', pattern: re(`qemu\\+tls://${hostPart}${port}/system${query}`) },
  { name: 'qemu+tcp://host[:port]/system', pattern: re(`qemu\\+tcp://${hostPart}${port}/system${query}`) },
  { name: 'test:///default', pattern: re(`test:///default`) },
  { name: 'test:///abs/path.xml', pattern: re(String.raw`test:///(?:[\w.-]+/)*[\w.-]+\.xml`) },
  { name: 'test+unix:///default?socket=...', pattern: re(`test\\+unix:///default${query}`) },
  { name: 'test+tcp://host:port/default', pattern: re(`test\\+tcp://${hostPart}${port}/default`) },
  {
    name: 'https://lxd-host[:port][?fingerprint=...&instance-type=...&image=...&project=...]',
    pattern: re(`https://${hostPart}${port}/?${lxdQuery}`),
  },
  {
    name: 'lxd+unix:///path/unix.socket[?instance-type=...&image=...&project=...]',
    pattern: re(String.raw`lxd\+unix://(?:/[\w.-]+)+${lxdQuery}`),
  },
  { name: 'sim://name', pattern: re(String.raw`sim://[a-z0-9][a-z0-9_.-]{0,62}`) },
];

export const acceptedUriForms = forms.map((f) => f.name);

export function hypervisorUriProblem(uri: string): string | undefined {
  if (uri.trim() === '') return 'required';
  const form = forms.find((f) => f.pattern.test(uri));
  if (!form) return `malformed hypervisor URI '${uri}' (accepted: ${acceptedUriForms.join(', ')})`;
  const p = form.pattern.exec(uri)?.groups?.['port'];
  if (p !== undefined && (Number(p) < 1 || Number(p) > 65535)) return `port ${p} out of range 1-65535`;
  return undefined;
}
