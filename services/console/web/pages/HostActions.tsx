import { useState } from 'react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { HostState } from '@berth/proto/berth/model/v1/host.ts';
import type { Host } from '@berth/proto/berth/inventory/v1/host.ts';
import type { EvacuationPlan } from '@berth/proto/berth/migration/v1/migration_service.ts';
import { commandMeta, rpc } from '../client.ts';
import { bytes, HOST_STATES } from '../format.ts';
import { useInfo, useRpc } from '../hooks.ts';
import { ActionButton } from '../components/WhyNot.tsx';

const ACTIVE = new Set(['running', 'blocked']);

/** Host state and maintenance: preview the evacuation, confirm, follow each VM, cancel. */
export function HostActions({ host }: { host: Host }) {
  const queryClient = useQueryClient();
  const info = useInfo();
  const [target, setTarget] = useState<HostState>(HostState.HOST_STATE_NO_SCHEDULING);
  const [plan, setPlan] = useState<EvacuationPlan | undefined>();
  const migrationOff = info.data && !info.data.services.migration ? 'the console is not connected to the migration service' : undefined;
  const evacuation = useRpc('migration', 'getEvacuation', { hostId: host.hostId }, { enabled: !migrationOff, refetchInterval: 1000 });
  const evac = evacuation.data?.evacuation;
  const active = evac !== undefined && evac.evacuationId !== '' && ACTIVE.has(evac.status);
  const done = () => void queryClient.invalidateQueries();
  const setState = useMutation({
    mutationFn: () =>
      rpc('inventory', 'setHostState', { meta: commandMeta('state'), hostId: host.hostId, state: target, reason: 'set in the console' }),
    onSettled: done,
  });
  const preview = useMutation({
    mutationFn: () => rpc('migration', 'planEvacuation', { hostId: host.hostId }),
    onSuccess: (r) => setPlan(r.plan),
  });
  const start = useMutation({
    mutationFn: () =>
      rpc('migration', 'startEvacuation', { meta: commandMeta('evacuate'), hostId: host.hostId, reason: 'maintenance from the console' }),
    onSuccess: () => setPlan(undefined),
    onSettled: done,
  });
  const cancel = useMutation({
    mutationFn: () =>
      rpc('migration', 'cancelEvacuation', { meta: commandMeta('cancel-evacuation'), hostId: host.hostId, abortRunning: false }),
    onSettled: done,
  });
  const inMaintenance = host.state === HostState.HOST_STATE_MAINTENANCE || host.state === HostState.HOST_STATE_MAINTENANCE_PREPARING;
  const error = setState.error ?? preview.error ?? start.error ?? cancel.error;
  return (
    <section className="panel" aria-labelledby="host-actions">
      <h2 id="host-actions">Actions</h2>
      <div className="toolbar">
        <label>
          New state
          <select value={target} onChange={(e) => setTarget(Number(e.target.value))}>
            {HOST_STATES.filter(([s]) => s !== HostState.HOST_STATE_MAINTENANCE_PREPARING && s !== HostState.HOST_STATE_MAINTENANCE).map(
              ([s, l]) => (
                <option key={s} value={s}>
                  {l}
                </option>
              ),
            )}
          </select>
        </label>
        <ActionButton
          id="set-state"
          onClick={() => setState.mutate()}
          whyNot={
            target === host.state
              ? 'the host is in that state already'
              : active
                ? 'an evacuation is in progress: cancel it first'
                : undefined
          }
        >
          Set state
        </ActionButton>
        <ActionButton
          id="preview-maintenance"
          onClick={() => preview.mutate()}
          whyNot={
            migrationOff ??
            (active ? 'an evacuation is in progress' : inMaintenance && !active ? 'the host is in maintenance already' : undefined)
          }
        >
          Maintenance…
        </ActionButton>
      </div>
      {error ? (
        <p className="error" role="alert">
          {error.message}
        </p>
      ) : null}
      {plan ? (
        <div className="panel" data-testid="evacuation-plan" aria-label="Evacuation preview">
          <h3>Evacuation preview</h3>
          <p>{plan.summary}</p>
          <p className="muted small">
            {plan.moves.length} to move ({bytes(plan.totalMemoryBytes)}), {plan.concurrency} at a time
          </p>
          {plan.warnings.map((w) => (
            <p key={w} className="warning" data-testid="plan-warning">
              Warning: {w}
            </p>
          ))}
          <table className="simple">
            <caption className="sr-only">Planned moves</caption>
            <thead>
              <tr>
                <th scope="col">#</th>
                <th scope="col">VM</th>
                <th scope="col">To</th>
                <th scope="col">Why</th>
              </tr>
            </thead>
            <tbody>
              {plan.moves.map((m) => (
                <tr key={m.vmId} data-testid={`move-${m.vmId}`}>
                  <td>{m.order}</td>
                  <td>{m.vmName || m.vmId}</td>
                  <td>{m.destinationHostId}</td>
                  <td>
                    {m.reason}
                    {m.warning ? <div className="warning">Warning: {m.warning}</div> : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {plan.blockers.length > 0 ? <h4>Blockers</h4> : null}
          <ul>
            {plan.blockers.map((b) => (
              <li key={b.vmId} data-testid={`blocker-${b.vmId}`} className="error">
                {b.vmName || b.vmId}: {b.reason} — {b.remedy}
              </li>
            ))}
          </ul>
          <ActionButton id="confirm-maintenance" kind="primary" onClick={() => start.mutate()}>
            Confirm: start maintenance
          </ActionButton>
          <button type="button" onClick={() => setPlan(undefined)}>
            Close preview
          </button>
        </div>
      ) : null}
      {evac && evac.evacuationId ? (
        <div className="panel" data-testid="evacuation" data-status={evac.status} aria-label="Evacuation progress">
          <h3>
            Evacuation: <span data-testid="evacuation-status">{evac.status}</span>
          </h3>
          {evac.blockedReason ? <p className="warning">{evac.blockedReason}</p> : null}
          <table className="simple">
            <caption className="sr-only">Moves</caption>
            <thead>
              <tr>
                <th scope="col">VM</th>
                <th scope="col">Status</th>
                <th scope="col">To</th>
                <th scope="col">Progress</th>
              </tr>
            </thead>
            <tbody>
              {evac.moves.map((m) => (
                <tr key={m.vmId} data-testid={`evac-move-${m.vmId}`} data-status={m.status}>
                  <td>{m.vmId}</td>
                  <td>{m.status}</td>
                  <td>{m.destinationHostId || '—'}</td>
                  <td>
                    {m.progress && m.progress.dataTotalBytes > 0
                      ? `${Math.round((m.progress.dataProcessedBytes / m.progress.dataTotalBytes) * 100)} %`
                      : m.reason || '—'}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <ActionButton
            id="cancel-maintenance"
            kind="danger"
            onClick={() => cancel.mutate()}
            whyNot={active ? undefined : `the evacuation is ${evac.status}`}
          >
            Cancel evacuation
          </ActionButton>
        </div>
      ) : null}
    </section>
  );
}
