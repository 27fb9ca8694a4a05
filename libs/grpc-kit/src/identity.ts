/**
 * Who is calling. Identities are SPIFFE-style URIs carried as the URI subject alternative name of
 * the caller's certificate: `spiffe://berth/<kind>/<name>`, e.g. `spiffe://berth/service/scheduler`,
 * `spiffe://berth/operator/alice`, `spiffe://berth/client/acme-portal` (docs/security.md).
 */
export type CallerKind = 'service' | 'operator' | 'client' | 'anonymous';

export interface Caller {
  /** The full identity URI, `loopback` for the loopback caller, '' for anonymous. */
  readonly identity: string;
  readonly kind: CallerKind;
  /** The last path segment: a service name (`scheduler`), an operator's or a client platform's name. */
  readonly name: string;
}

export const TRUST_DOMAIN = 'berth';

const NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;
const KINDS = new Set<CallerKind>(['service', 'operator', 'client']);

/**
 * The caller of every call on a plaintext server. Plaintext is only allowed on loopback (the server
 * refuses to bind elsewhere without mutual TLS), where authentication is off: whoever can reach a
 * loopback port already runs on this machine, so `npm start` keeps working as an operator would.
 */
export const LOOPBACK_CALLER: Caller = Object.freeze({ identity: 'loopback', kind: 'operator', name: 'loopback' });

/** A TLS peer whose certificate carries no Berth identity; the interceptor answers UNAUTHENTICATED. */
export const ANONYMOUS_CALLER: Caller = Object.freeze({ identity: '', kind: 'anonymous', name: '' });

/** `spiffe://berth/<kind>/<name>`; throws on a name that is not a lower-case DNS-like label. */
export function identityUri(kind: Exclude<CallerKind, 'anonymous'>, name: string): string {
  if (!KINDS.has(kind)) throw new Error(`unknown identity kind "${kind}"`);
  if (!NAME.test(name)) throw new Error(`identity name "${name}" must match ${NAME.source}`);
  return `spiffe://${TRUST_DOMAIN}/${kind}/${name}`;
}

/** The caller an identity URI names, or undefined when it is not a Berth identity. */
export function parseIdentity(uri: string): Caller | undefined {
  const match = /^spiffe:\/\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(uri);
  if (!match || match[1] !== TRUST_DOMAIN) return undefined;
  const kind = match[2] as CallerKind;
  const name = match[3] ?? '';
  if (!KINDS.has(kind) || !NAME.test(name)) return undefined;
  return Object.freeze({ identity: uri, kind, name });
}

/**
 * The caller named by a certificate's subjectAltName as Node prints it
 * (`URI:spiffe://berth/service/scheduler, DNS:localhost`). Exactly one Berth identity is accepted:
 * none or several (ambiguous) make the caller anonymous.
 */
export function callerFromSubjectAltName(subjectAltName: string | undefined): Caller {
  if (!subjectAltName) return ANONYMOUS_CALLER;
  const callers = subjectAltName
    .split(/,\s*/)
    .filter((entry) => entry.startsWith('URI:'))
    .map((entry) => parseIdentity(entry.slice('URI:'.length)))
    .filter((c): c is Caller => c !== undefined);
  return callers.length === 1 && callers[0] ? callers[0] : ANONYMOUS_CALLER;
}

/** What callerOf reads: a grpc-js server call, an intercepted call, or anything with its auth context. */
export interface HasAuthContext {
  /** grpc-js's AuthContext (not exported by its index): `{}` on plaintext. */
  getAuthContext(): { transportSecurityType?: string; sslPeerCertificate?: { subjectaltname?: string } } | null;
}

/**
 * The caller of a server call. A plaintext connection is the loopback caller (authentication off,
 * see LOOPBACK_CALLER); a TLS connection is the identity in the verified client certificate, or
 * anonymous when the certificate carries none. Takes a grpc-js call or a handler's CallContext (`ctx.caller`).
 *
 * A call whose auth context cannot be read is anonymous (refused): grpc-js 1.14's `getAuthContext`
 * throws a TypeError for a stream whose TLS socket was destroyed before the server took it up
 * (`getPeerCertificate()` is null then), and thrown in the server's stream handler that ended the
 * whole process (a service frozen with SIGSTOP while its clients gave up: test/migration-sigkill).
 */
export function callerOf(call: HasAuthContext | { readonly caller: Caller }): Caller {
  if ('caller' in call) return call.caller;
  let auth: ReturnType<HasAuthContext['getAuthContext']>;
  try {
    auth = call.getAuthContext();
  } catch {
    return ANONYMOUS_CALLER;
  }
  if (auth?.transportSecurityType !== 'ssl') return LOOPBACK_CALLER;
  return callerFromSubjectAltName(auth.sslPeerCertificate?.subjectaltname);
}
