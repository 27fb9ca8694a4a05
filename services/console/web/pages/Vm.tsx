import { useState } from 'react';
import { Link, useLocation } from 'wouter';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { CpuPolicy } from '@berth/proto/berth/model/v1/vm.ts';
import type { Vm } from '@berth/proto/berth/inventory/v1/vm.ts';
import { commandMeta, rpc, vmTimeline } from '../client.ts';
import { bytes, duration, migrationMode, migrationStatus, ranges, slaTier, time, vmStatus } from '../format.ts';
import { useInfo, useRpc } from '../hooks.ts';
import { ActionButton } from '../components/WhyNot.tsx';
import { Explanation } from '../components/Explanation.tsx';
import { whyNot, whyNotMigrate, type VmAction } from './vm-actions.ts';
import { MigrateDialog } from './MigrateDialog.tsx';

export function VmPage({ vmId }: { vmId: string }) {
  const q = useRpc('inventory', 'getVm', { vmId });
  const vm = q.data?.vm;
  if (q.error) return <p className="error">{q.error.message}</p>;
  if (!vm) return <p>Loading {vmId}…</p>;
  return (
    <>
      <h1>
        VM {vm.spec?.name || vm.vmId}{' '}
        <span className={`state ${vmStatus(vm.status).replaceAll(' ', '-')}`} data-testid="vm-status">
          {vmStatus(vm.status)}
        </span>
      </h1>
      <VmActions vm={vm} />
      <div className="numa">
        <section className="panel" aria-labelledby="spec-h">
          <h2 id="spec-h">Spec</h2>
          <Spec vm={vm} />
        </section>
        <section className="panel" aria-labelledby="claim-h">
          <h2 id="claim-h">Claim</h2>
          <ClaimView vm={vm} />
        </section>
      </div>
      <Timeline vm={vm} />
      <Placement vm={vm} />
      <Migrations vmId={vm.vmId} />
      <Telemetry vm={vm} />
    </>
  );
}

function Spec({ vm }: { vm: Vm }) {
  const s = vm.spec;
  if (!s) return null;
  const rows: [string, string, string][] = [
    ['vCPUs', String(s.vcpus), vm.claim ? String(vm.claim.vcpus) : '—'],
    ['Memory', bytes(s.memoryBytes), vm.claim ? bytes(vm.claim.memoryBytes) : '—'],
    [
      'CPU policy',
      s.cpuPolicy === CpuPolicy.CPU_POLICY_DEDICATED ? 'dedicated' : 'shared',
      vm.claim?.pinnedCpus.length ? `pinned (${vm.claim.pinnedCpus.length} CPUs)` : 'floating',
    ],
    [
      'Hugepages',
      s.hugepageSizeBytes ? bytes(s.hugepageSizeBytes) : 'none',
      vm.claim?.hugepages.length
        ? vm.claim.hugepages.map((h) => `${h.count} × ${bytes(h.pageSizeBytes)} on node ${h.numaNode}`).join(', ')
        : 'none',
    ],
    ['High performance', s.highPerformance ? 'yes' : 'no', s.passthroughCpu ? 'host CPU passed through' : '—'],
    ['Migration mode', migrationMode(s.migrationMode), migrationMode(s.migrationMode)],
    ['SLA class', slaTier(s.slaTier), '—'],
    ['Pool', s.resourcePool || 'default', vm.hostId || '—'],
    [
      'Disks',
      s.disks.map((d) => `${bytes(d.sizeBytes)} from ${d.pool || 'default'}`).join(', ') || 'none',
      vm.claim?.volumes.map((v) => `${bytes(v.sizeBytes)} in ${v.pool}`).join(', ') || '—',
    ],
    [
      'Devices',
      s.devices.map((d) => `${d.count} × ${d.type}`).join(', ') || 'none',
      vm.claim?.devices.map((d) => `${d.type} ${d.address}`).join(', ') || '—',
    ],
    ['Tags', s.tags.join(', ') || '—', '—'],
  ];
  return (
    <table className="simple">
      <caption className="sr-only">Spec and effective spec</caption>
      <thead>
        <tr>
          <th scope="col">Field</th>
          <th scope="col">Asked for</th>
          <th scope="col">Effective</th>
        </tr>
      </thead>
      <tbody>
        {rows.map(([k, a, e]) => (
          <tr key={k}>
            <th scope="row">{k}</th>
            <td>{a}</td>
            <td>{e}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function ClaimView({ vm }: { vm: Vm }) {
  const c = vm.claim;
  if (!c || !c.hostId) return <p className="muted">No claim: {vm.failureReason || `the VM is ${vmStatus(vm.status)}`}</p>;
  return (
    <dl className="kv" data-testid="claim">
      <dt>Host</dt>
      <dd>
        <Link href={`/hosts/${encodeURIComponent(c.hostId)}`}>{c.hostId}</Link>
      </dd>
      <dt>Cores</dt>
      <dd>{c.pinnedCpus.length ? ranges(c.pinnedCpus) : 'unpinned'}</dd>
      <dt>NUMA cells</dt>
      <dd>
        {c.numaCells.map((x) => `guest ${x.guestCell} → host ${x.hostNode} (CPUs ${ranges(x.cpus)}, ${bytes(x.memoryBytes)})`).join('; ') ||
          '—'}
      </dd>
      <dt>Devices</dt>
      <dd>{c.devices.map((d) => `${d.type} ${d.address}`).join(', ') || '—'}</dd>
      <dt>VFs</dt>
      <dd>{c.vfs.map((v) => `${v.count} on ${v.nic}`).join(', ') || '—'}</dd>
      <dt>Volumes</dt>
      <dd>{c.volumes.map((v) => `disk ${v.diskIndex}: ${bytes(v.sizeBytes)} in ${v.pool}`).join(', ') || '—'}</dd>
    </dl>
  );
}

function Timeline({ vm }: { vm: Vm }) {
  const q = useQuery({ queryKey: ['timeline', vm.vmId, vm.version], queryFn: () => vmTimeline(vm.vmId) });
  const entries = q.data ?? [];
  return (
    <section className="panel" aria-labelledby="tl-h">
      <h2 id="tl-h">Lifecycle</h2>
      {q.error ? <p className="error">{q.error.message}</p> : null}
      <ol className="timeline" data-testid="timeline">
        {entries.map((e, i) => {
          const prev = entries[i - 1];
          const took = prev ? Date.parse(e.occurredAt) - Date.parse(prev.occurredAt) : undefined;
          return (
            <li key={i} data-type={e.type}>
              <time dateTime={e.occurredAt}>{time(e.occurredAt)}</time> <strong>{e.type}</strong> → {vmStatus(e.status)}
              {e.hostId ? ` on ${e.hostId}` : ''}
              {took !== undefined ? <span className="muted"> (+{duration(took)})</span> : null}
            </li>
          );
        })}
      </ol>
      {entries.length > 1 ? (
        <p className="muted small" data-testid="timeline-total">
          {entries[0]!.type} to {entries.at(-1)!.type}:{' '}
          {duration(Date.parse(entries.at(-1)!.occurredAt) - Date.parse(entries[0]!.occurredAt))}
        </p>
      ) : null}
    </section>
  );
}

function Placement({ vm }: { vm: Vm }) {
  const q = useRpc('scheduler', 'explain', { vmId: vm.vmId }, { enabled: vm.hostId !== '' || vm.failureReason !== '' });
  const json = q.data?.explanationJson || vm.explanationJson;
  return (
    <section className="panel" aria-labelledby="pl-h">
      <h2 id="pl-h">Placement</h2>
      {q.error && !json ? <p className="muted">{q.error.message}</p> : null}
      {json ? <Explanation json={json} summary={q.data?.summary ?? ''} /> : <p className="muted">No placement decision yet.</p>}
    </section>
  );
}

function Migrations({ vmId }: { vmId: string }) {
  const info = useInfo();
  const q = useRpc('migration', 'listMigrations', { vmId, limit: 20 }, { enabled: info.data?.services.migration === true });
  const list = q.data?.migrations ?? [];
  return (
    <section className="panel" aria-labelledby="mig-h">
      <h2 id="mig-h">Migrations</h2>
      {list.length === 0 ? <p className="muted">None.</p> : null}
      <ul className="plain">
        {list.map((m) => (
          <li key={m.migrationId}>
            {time(m.requestedAt)} {m.sourceHostId} → {m.destinationHostId || '?'}: {migrationStatus(m.status)}{' '}
            {m.reason ? `(${m.reason})` : ''}
            {m.warning ? <span className="warning"> {m.warning}</span> : null}
          </li>
        ))}
      </ul>
    </section>
  );
}

function Telemetry({ vm }: { vm: Vm }) {
  const info = useInfo();
  const q = useRpc(
    'telemetry',
    'getHostTelemetry',
    { hostId: vm.hostId },
    { enabled: info.data?.services.telemetry === true && vm.hostId !== '' },
  );
  let samples: unknown[] = [];
  try {
    const parsed = q.data?.json ? (JSON.parse(q.data.json) as { guests?: Record<string, unknown[]> }) : undefined;
    samples = parsed?.guests?.[vm.vmId] ?? [];
  } catch {
    samples = [];
  }
  const last = samples.at(-1) as Record<string, unknown> | undefined;
  return (
    <section className="panel" aria-labelledby="tel-h">
      <h2 id="tel-h">Memory and balloon</h2>
      {!last ? (
        <p className="muted">
          {info.data?.services.telemetry
            ? 'No readings from the telemetry service for this VM.'
            : 'The console is not connected to the telemetry service.'}
        </p>
      ) : (
        <dl className="kv" data-testid="telemetry">
          {Object.entries(last)
            .filter(([, v]) => typeof v === 'number')
            .map(([k, v]) => (
              <div key={k} style={{ display: 'contents' }}>
                <dt>{k}</dt>
                <dd>{/bytes|memory|balloon|rss/i.test(k) ? bytes(v as number) : String(v)}</dd>
              </div>
            ))}
        </dl>
      )}
    </section>
  );
}

function VmActions({ vm }: { vm: Vm }) {
  const queryClient = useQueryClient();
  const info = useInfo();
  const [, navigate] = useLocation();
  const [migrating, setMigrating] = useState(false);
  const act = useMutation({
    mutationFn: (action: VmAction) => rpc('inventory', `${action}Vm`, { meta: commandMeta(action), vmId: vm.vmId }),
    onSuccess: (_r, action) => (action === 'delete' ? navigate('/vms') : undefined),
    onSettled: () => void queryClient.invalidateQueries(),
  });
  return (
    <section className="panel" aria-label="VM actions">
      {(['start', 'stop', 'reboot', 'delete'] as const).map((a) => (
        <ActionButton
          key={a}
          id={`vm-${a}`}
          kind={a === 'delete' ? 'danger' : undefined}
          onClick={() => act.mutate(a)}
          whyNot={whyNot(vm, a)}
        >
          {a[0]!.toUpperCase() + a.slice(1)}
        </ActionButton>
      ))}
      <ActionButton id="vm-migrate" onClick={() => setMigrating(true)} whyNot={whyNotMigrate(vm, info.data?.services.migration === true)}>
        Migrate…
      </ActionButton>
      {act.error ? (
        <p className="error" role="alert">
          {act.error.message}
        </p>
      ) : null}
      {migrating ? <MigrateDialog vm={vm} onClose={() => setMigrating(false)} /> : null}
    </section>
  );
}
