/**
 * LXD host URIs. Two transports:
 *
 * - `https://host[:port][/][?options]` — LXD's REST API over TLS with a client certificate. The port
 *   defaults to 8443. `fingerprint=<sha256 hex of the server certificate>` pins the server (LXD's
 *   certificates are self-signed; without it the server must present a certificate the system CAs
 *   trust).
 * - `lxd+unix:///abs/path/unix.socket[?options]` — the daemon's local socket (root or the daemon's group).
 *
 * Options common to both: `instance-type=virtual-machine|container` (default `virtual-machine`: what
 * Berth places are VMs; `container` makes the host an LXD container host, whose "VMs" are system
 * containers), `image=<alias or fingerprint>` (the image containers are created from; required for
 * containers, VMs start empty as MAAS's do), `project=<name>` (default `default`).
 */
export type LxdInstanceType = 'virtual-machine' | 'container';

export interface LxdEndpoint {
  readonly transport: 'https' | 'unix';
  /** https: `https://host:port`; unix: the socket path. */
  readonly address: string;
  readonly host?: string;
  readonly port?: number;
  readonly socketPath?: string;
  readonly fingerprint?: string;
  readonly instanceType: LxdInstanceType;
  readonly image?: string;
  readonly project: string;
}

const OPTIONS = new Set(['fingerprint', 'instance-type', 'image', 'project']);

export const isLxdUri = (uri: string): boolean => uri.startsWith('https://') || uri.startsWith('lxd+unix://');

/** Parses an LXD host URI; throws an Error naming what is wrong. */
export function parseLxdUri(uri: string): LxdEndpoint {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new Error(`malformed LXD URI '${uri}'`);
  }
  const opts = new Map<string, string>();
  for (const [k, v] of url.searchParams) {
    if (!OPTIONS.has(k)) throw new Error(`unknown LXD URI option '${k}' (known: ${[...OPTIONS].join(', ')})`);
    opts.set(k, v);
  }
  const type = opts.get('instance-type') ?? 'virtual-machine';
  if (type !== 'virtual-machine' && type !== 'container')
    throw new Error(`instance-type must be virtual-machine or container, not '${type}'`);
  const fingerprint = opts.get('fingerprint')?.toLowerCase().replace(/:/g, '');
  if (fingerprint !== undefined && !/^[0-9a-f]{64}$/.test(fingerprint))
    throw new Error("fingerprint must be the 64 hex digits of the server certificate's SHA-256");
  const image = opts.get('image');
  if (type === 'container' && (image === undefined || image === '')) throw new Error('instance-type=container needs image=<alias>');
  const project = opts.get('project') ?? 'default';
  const common = {
    instanceType: type,
    project,
    ...(image !== undefined && image !== '' ? { image } : {}),
    ...(fingerprint !== undefined ? { fingerprint } : {}),
  } as const;
  if (url.protocol === 'https:') {
    if (url.pathname !== '/' && url.pathname !== '') throw new Error(`an LXD https URI has no path, got '${url.pathname}'`);
    const port = url.port === '' ? 8443 : Number(url.port);
    const host = url.hostname;
    return { transport: 'https', address: `https://${host}:${port}`, host, port, ...common };
  }
  if (url.protocol === 'lxd+unix:') {
    if (url.host !== '' || !url.pathname.startsWith('/') || url.pathname.length < 2)
      throw new Error('lxd+unix URIs name an absolute socket path: lxd+unix:///path/unix.socket');
    const socketPath = decodeURIComponent(url.pathname);
    return { transport: 'unix', address: socketPath, socketPath, ...common };
  }
  throw new Error(`not an LXD URI: '${uri}' (https://host[:port] or lxd+unix:///path)`);
}
