import type { Claim, HostSnapshot } from '@berth/fit';
import type { Host } from '../../domain/host/state.ts';
import { placementOf, type Vm } from '../../domain/vm/state.ts';

/**
 * JSON text of the read model's documents and of the host snapshots, with the parts that never change
 * once made serialised once per object and spliced in: a claim, a host's record, a VM's core and its
 * placement. Evolving a document makes new objects for what changes and keeps the others (the domain's
 * state is read-only), so an object's text stays its text. A host's document holds every claim on it
 * and is written again with each new one; a VM's holds its placement's ~2.5 kB explanation and is
 * written again with each of its events.
 */
const made = new WeakMap<object, string>();

function onceJson(o: object): string {
  let json = made.get(o);
  if (json === undefined) {
    json = JSON.stringify(o);
    made.set(o, json);
  }
  return json;
}

/** `rest` as JSON with `parts` (name, JSON text) added as its last members. */
function spliced(rest: object, parts: readonly (readonly [string, string])[]): string {
  const head = JSON.stringify(rest);
  let out = head.slice(0, -1);
  let empty = head === '{}';
  for (const [name, json] of parts) {
    out += `${empty ? '' : ','}${JSON.stringify(name)}:${json}`;
    empty = false;
  }
  return `${out}}`;
}

const claimsJson = (claims: readonly Claim[]): string => `[${claims.map(onceJson).join(',')}]`;

/** JSON.stringify(host), its members in another order. */
export function hostDocJson(host: Host): string {
  if (host.status !== 'active') return JSON.stringify(host);
  return spliced({ ...host, record: undefined, claims: undefined }, [
    ['record', onceJson(host.record)],
    ['claims', claimsJson(host.claims)],
  ]);
}

/** JSON.stringify(vm), its members in another order. */
export function vmDocJson(vm: Vm): string {
  if (!('core' in vm)) return JSON.stringify(vm);
  const placement = placementOf(vm);
  const parts: [string, string][] = [['core', onceJson(vm.core)]];
  if (placement !== undefined) parts.push(['placement', onceJson(placement)]);
  return spliced({ ...vm, core: undefined, placement: undefined }, parts);
}

/** JSON.stringify(snapshot), its members in another order (its claims are the host's own objects). */
export const snapshotJson = (snapshot: HostSnapshot): string =>
  spliced({ ...snapshot, claims: undefined }, [['claims', claimsJson(snapshot.claims)]]);

/** JSON.stringify of a read-model row (without its document) and its document, given as JSON text. */
export const rowJson = (row: object, docJson: string): string => spliced(row, [['doc', docJson]]);
