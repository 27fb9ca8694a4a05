import { createHash } from 'node:crypto';
import { NotFoundError, ValidationError, type CallDeadline } from '@berth/errors';
import { evolveStored, handleCommand, type EventStreams } from '@berth/event-store';
import {
  checkScope,
  decidePolicy,
  evolvePolicy,
  initialPolicyState,
  policyStreamId,
  scopesFor,
  type PolicyEvent,
  type PolicyFile,
  type PolicySetApplied,
  type PolicySource,
  type PolicyState,
} from '../domain/policy/policy.ts';
import type { PolicyEngine } from './ports.ts';

export const digestOf = (files: readonly PolicyFile[]): string => {
  const h = createHash('sha256');
  for (const f of [...files].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) h.update(`${f.name}\u0000${f.text}\u0000`);
  return h.digest('hex');
};

export interface ResolvedPolicy<S> {
  readonly set: PolicySetApplied;
  readonly compiled: S;
}

/**
 * Policy sets per scope: applied as events (validated first: a file that does not parse names its
 * file and line and nothing is recorded), resolved per host (host, then its resource pool, then
 * default), compiled once per version.
 */
export class Policies<S> {
  private readonly current = new Map<string, PolicySetApplied>();
  private readonly compiled = new Map<string, S>();

  constructor(
    private readonly store: EventStreams,
    private readonly engine: PolicyEngine<S>,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  /** Start-up: the policy sets the log holds, in log order. */
  replay(events: readonly PolicySetApplied[]): void {
    for (const e of events) {
      const known = this.current.get(e.scope);
      if (!known || known.version < e.version) this.current.set(e.scope, e);
    }
  }

  compile(files: readonly PolicyFile[]): S {
    const r = this.engine.compile(files);
    if (!r.ok) throw new ValidationError({ field: `files.${r.file}`, reason: `${r.file}:${r.line}: ${r.message}` });
    return r.set;
  }

  async apply(
    scope: string,
    files: readonly PolicyFile[],
    opts: { commandId?: string; source?: PolicySource; call?: CallDeadline } = {},
  ): Promise<PolicySetApplied> {
    checkScope(scope);
    if (files.length === 0) throw new ValidationError({ field: 'files', reason: 'a policy set needs at least one file' });
    const compiled = this.compile(files);
    const r = await handleCommand<PolicyState, Parameters<typeof decidePolicy>[0], PolicyEvent>({
      store: this.store,
      streamId: policyStreamId(scope),
      decide: decidePolicy,
      evolve: evolveStored<PolicyState, PolicyEvent>({ PolicySetApplied: true }, evolvePolicy),
      initialState: initialPolicyState,
      command: {
        type: 'ApplyPolicySet',
        scope,
        files,
        digest: digestOf(files),
        source: opts.source ?? 'applied',
        at: this.clock().toISOString(),
      },
      ...(opts.commandId !== undefined ? { commandId: opts.commandId } : {}),
      ...(opts.call !== undefined ? { call: opts.call } : {}),
    });
    if (r.state.status !== 'set') throw new Error(`policy ${scope} has no set after apply`);
    this.current.set(scope, r.state.current);
    this.compiled.set(`${scope}@${r.state.current.version}`, compiled);
    return r.state.current;
  }

  /** Records the built-in default when the log has none yet. */
  async ensureDefault(files: readonly PolicyFile[]): Promise<void> {
    if (!this.current.has('default'))
      await this.apply('default', files, { source: 'builtin', commandId: `builtin-default-${digestOf(files)}` });
  }

  scopes(): string[] {
    return [...this.current.keys()].sort();
  }

  show(scope: string): PolicySetApplied {
    checkScope(scope);
    const s = this.current.get(scope);
    if (!s) throw new NotFoundError('policy scope', scope);
    return s;
  }

  resolve(hostId: string, resourcePool: string | undefined): ResolvedPolicy<S> {
    for (const scope of scopesFor(hostId, resourcePool)) {
      const set = this.current.get(scope);
      if (set) return { set, compiled: this.compiledOf(set) };
    }
    throw new NotFoundError('policy scope', 'default');
  }

  compiledOf(set: PolicySetApplied): S {
    const key = `${set.scope}@${set.version}`;
    let c = this.compiled.get(key);
    if (c === undefined) {
      c = this.compile(set.files);
      this.compiled.set(key, c);
    }
    return c;
  }

  /** A recorded version of a scope (for replay). */
  async version(scope: string, version: number): Promise<PolicySetApplied> {
    const { events } = await this.store.readStream(policyStreamId(scope));
    const e = events.find((x) => x.type === 'PolicySetApplied' && (x.data as PolicySetApplied).version === version);
    if (!e) throw new NotFoundError('policy version', `${scope}@${version}`);
    return e.data as PolicySetApplied;
  }
}
