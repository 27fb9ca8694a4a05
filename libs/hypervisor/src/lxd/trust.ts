import { HypervisorError } from '../errors.ts';
import { Deadline, LxdClient } from './client.ts';
import type { LxdCredentials } from './tls.ts';
import { parseLxdUri } from './uri.ts';

/** What an LXD trust token (`lxc config trust add`) carries: base64 JSON. */
export interface LxdTrustToken {
  readonly client_name: string;
  readonly fingerprint: string;
  readonly addresses: readonly string[];
  readonly secret: string;
  readonly expires_at?: string;
}

export function decodeTrustToken(token: string): LxdTrustToken {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token.trim(), 'base64').toString('utf8'));
  } catch {
    throw new Error('not an LXD trust token (base64 JSON expected)');
  }
  const t = parsed as Partial<LxdTrustToken>;
  if (typeof t.fingerprint !== 'string' || !/^[0-9a-f]{64}$/.test(t.fingerprint) || typeof t.secret !== 'string') {
    throw new Error('not an LXD trust token (fingerprint and secret missing)');
  }
  return {
    client_name: t.client_name ?? '',
    fingerprint: t.fingerprint,
    addresses: t.addresses ?? [],
    secret: t.secret,
    ...(t.expires_at ? { expires_at: t.expires_at } : {}),
  };
}

/**
 * Has an LXD host trust Berth's client certificate with a trust token, as `lxc remote add` does:
 * the token names the server certificate's fingerprint, which is pinned for the exchange (and
 * returned in the URI, so every later connection is pinned too). Returns the host URI with
 * `fingerprint=` set (other options of `uri` kept). Already trusted is fine.
 */
export async function enrollWithTrustToken(
  uri: string,
  token: string,
  credentials: LxdCredentials,
  timeoutMillis = 15_000,
): Promise<string> {
  let decoded: LxdTrustToken;
  try {
    decoded = decodeTrustToken(token);
  } catch (e) {
    throw new HypervisorError('permanent', 'trust', uri, e instanceof Error ? e.message : String(e));
  }
  const url = new URL(uri);
  const given = url.searchParams.get('fingerprint');
  if (given !== null && given.toLowerCase().replace(/:/g, '') !== decoded.fingerprint) {
    throw new HypervisorError('permanent', 'trust', uri, 'the trust token is for another server (fingerprints differ)');
  }
  url.searchParams.set('fingerprint', decoded.fingerprint);
  const pinned = url.toString().replace(/\/\?/, '?');
  const endpoint = parseLxdUri(pinned);
  if (endpoint.transport !== 'https') throw new HypervisorError('permanent', 'trust', uri, 'trust tokens are for https hosts');
  const client = new LxdClient(endpoint, pinned, credentials);
  try {
    const deadline = new Deadline(timeoutMillis);
    const server = await client.get<{ auth?: string }>('/1.0', deadline);
    if (server.auth !== 'trusted') {
      await client.call(
        'POST',
        '/1.0/certificates',
        deadline,
        { type: 'client', password: token.trim(), name: decoded.client_name || 'berth' },
        'trust',
      );
      const again = await client.get<{ auth?: string }>('/1.0', deadline);
      if (again.auth !== 'trusted')
        throw new HypervisorError('permanent', 'trust', uri, 'the host accepted the token but does not trust the certificate');
    }
  } finally {
    await client.close();
  }
  return pinned;
}
