/**
 * Policy sets as events, one stream per scope (`policy-default`, `policy-pool:<name>`,
 * `policy-host:<id>`). The files are validated (parsed) by the application before the command is
 * decided: a set that does not parse never reaches the log. A host resolves host -> pool -> default.
 */
import { ValidationError } from '@berth/errors';

export interface PolicyFile {
  readonly name: string;
  readonly text: string;
}

export type PolicySource = 'builtin' | 'applied';

export interface PolicySetApplied {
  readonly scope: string;
  readonly version: number;
  readonly digest: string;
  readonly files: readonly PolicyFile[];
  readonly source: PolicySource;
  readonly appliedAt: string;
}

export type PolicyEvent = { readonly type: 'PolicySetApplied'; readonly data: PolicySetApplied };

export interface ApplyPolicySet {
  readonly type: 'ApplyPolicySet';
  readonly scope: string;
  readonly files: readonly PolicyFile[];
  readonly digest: string;
  readonly source: PolicySource;
  readonly at: string;
}

export type PolicyState =
  | { readonly status: 'none'; readonly version: 0 }
  | { readonly status: 'set'; readonly version: number; readonly current: PolicySetApplied };

export const initialPolicyState = (): PolicyState => ({ status: 'none', version: 0 });

const SCOPE = /^(default|pool:[^\s]{1,200}|host:[^\s]{1,200})$/;

export function checkScope(scope: string, field = 'scope'): string {
  if (!SCOPE.test(scope))
    throw new ValidationError({ field, reason: `must be "default", "pool:<resource pool>" or "host:<host id>", got "${scope}"` });
  return scope;
}

export const policyStreamId = (scope: string): string => `policy-${scope}`;

export function decidePolicy(c: ApplyPolicySet, s: PolicyState): PolicyEvent[] {
  checkScope(c.scope);
  if (c.files.length === 0) throw new ValidationError({ field: 'files', reason: 'a policy set needs at least one file' });
  const names = new Set<string>();
  c.files.forEach((f, i) => {
    if (!/^[\w.-]{1,200}$/.test(f.name))
      throw new ValidationError({ field: `files[${i}].name`, reason: `must be a plain file name, got "${f.name}"` });
    if (names.has(f.name)) throw new ValidationError({ field: `files[${i}].name`, reason: `"${f.name}" appears twice` });
    names.add(f.name);
  });
  // The same files again change nothing (an apply of an unchanged directory is not a new version).
  if (s.status === 'set' && s.current.digest === c.digest) return [];
  const files = [...c.files].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return [
    {
      type: 'PolicySetApplied',
      data: { scope: c.scope, version: s.version + 1, digest: c.digest, files, source: c.source, appliedAt: c.at },
    },
  ];
}

export function evolvePolicy(_s: PolicyState, e: PolicyEvent): PolicyState {
  switch (e.type) {
    case 'PolicySetApplied':
      return { status: 'set', version: e.data.version, current: e.data };
    default: {
      const never: never = e.type;
      return never;
    }
  }
}

/** The scopes a host's policy is looked up in, most specific first. */
export const scopesFor = (hostId: string, resourcePool: string | undefined): string[] => [
  `host:${hostId}`,
  ...(resourcePool ? [`pool:${resourcePool}`] : []),
  'default',
];
