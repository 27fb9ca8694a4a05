import { Link } from 'wouter';
import type { Claim } from '@berth/proto/berth/model/v1/claim.ts';
import type { Host } from '@berth/proto/berth/inventory/v1/host.ts';
import { bytes, hostState, pageSize, ranges } from '../format.ts';
import { useRpc } from '../hooks.ts';
import { Meter } from '../components/Meter.tsx';
import { HostActions } from './HostActions.tsx';

export function HostPage({ hostId }: { hostId: string }) {
  const q = useRpc('inventory', 'getHost', { hostId });
  const host = q.data?.host;
  if (q.error) return <p className="error">{q.error.message}</p>;
  if (!host) return <p>Loading {hostId}…</p>;
  const spec = host.spec;
  return (
    <>
      <h1>
        Host {spec?.name || host.hostId}{' '}
        <span className={`state ${hostState(host.state).replaceAll(' ', '-')}`}>{hostState(host.state)}</span>
      </h1>
      <section className="panel" aria-label="Host summary">
        <dl className="kv">
          <dt>Id</dt>
          <dd>{host.hostId}</dd>
          <dt>Hypervisor</dt>
          <dd>{spec?.hypervisorUri}</dd>
          <dt>CPU</dt>
          <dd>
            {spec?.cpuModel || 'unknown model'} · {spec?.topology?.sockets} sockets × {spec?.topology?.coresPerSocket} cores ×{' '}
            {spec?.topology?.threadsPerCore} threads
          </dd>
          <dt>Pool</dt>
          <dd>{spec?.resourcePool || 'default'}</dd>
          <dt>Generation</dt>
          <dd>{host.generation}</dd>
          {host.stateReason ? (
            <>
              <dt>State reason</dt>
              <dd>{host.stateReason}</dd>
            </>
          ) : null}
        </dl>
      </section>
      <HostActions host={host} />
      <h2>NUMA nodes</h2>
      <Numa host={host} />
      <h2>Devices</h2>
      <Devices host={host} />
      <h2>Storage pools</h2>
      <table className="simple">
        <caption className="sr-only">Storage pools</caption>
        <thead>
          <tr>
            <th scope="col">Pool</th>
            <th scope="col">Type</th>
            <th scope="col">Path</th>
            <th scope="col">Usage</th>
          </tr>
        </thead>
        <tbody>
          {(host.usage?.storagePools ?? []).map((p) => {
            const s = spec?.storagePools.find((x) => x.name === p.name);
            return (
              <tr key={p.name}>
                <td>
                  {p.name}
                  {p.isDefault ? <strong> (default)</strong> : null}
                </td>
                <td>{s?.type}</td>
                <td>{s?.path}</td>
                <td>
                  <Meter
                    label=""
                    total={p.totalBytes}
                    allocated={p.usedBytes - (s?.externalUsedBytes ?? 0)}
                    other={s?.externalUsedBytes ?? 0}
                    format={bytes}
                  />
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </>
  );
}

function Numa({ host }: { host: Host }) {
  const nodes = host.spec?.numaNodes ?? [];
  const usage = host.usage?.numaNodes ?? [];
  const claims = host.claims;
  const holder = new Map<number, string>();
  for (const c of claims) for (const cpu of c.pinnedCpus) holder.set(cpu, c.vmId);
  for (const c of claims) for (const cell of c.numaCells) for (const cpu of cell.cpus) holder.set(cpu, c.vmId);
  const onNode = (c: Claim, id: number) => c.numaCells.some((x) => x.hostNode === id) || c.hugepages.some((x) => x.numaNode === id);
  const unpinned = claims.filter((c) => c.numaCells.length === 0 && c.pinnedCpus.length === 0 && c.hugepages.length === 0);
  // A host registered without a NUMA layout is one node holding every CPU.
  const shown =
    nodes.length > 0
      ? nodes
      : [
          {
            id: 0,
            cpus: Array.from({ length: host.spec?.cpus ?? 0 }, (_, i) => i),
            memoryBytes: host.spec?.memoryBytes ?? 0,
            hugepages: [],
          },
        ];
  return (
    <>
      <div className="numa" data-testid="numa">
        {shown.map((n) => {
          const u = usage.find((x) => x.id === n.id);
          const vms = claims.filter((c) => onNode(c, n.id));
          return (
            <section key={n.id} className="panel" aria-label={`NUMA node ${n.id}`} data-testid={`numa-${n.id}`}>
              <h3>Node {n.id}</h3>
              <div className="cores" role="list" aria-label={`CPUs of node ${n.id}`}>
                {n.cpus.map((cpu) => {
                  const vm = holder.get(cpu);
                  return (
                    <span
                      key={cpu}
                      role="listitem"
                      className={vm ? 'core pinned' : 'core'}
                      title={vm ? `CPU ${cpu} pinned to ${vm}` : `CPU ${cpu} free`}
                      aria-label={vm ? `CPU ${cpu} pinned to ${vm}` : `CPU ${cpu}`}
                    >
                      {cpu}
                    </span>
                  );
                })}
              </div>
              <Meter label="Memory" total={n.memoryBytes} allocated={u?.memoryUsedBytes ?? 0} format={bytes} />
              {(u?.hugepages ?? n.hugepages.map((p) => ({ pageSizeBytes: p.pageSizeBytes, total: p.total, used: 0 }))).map((p) => (
                <Meter
                  key={p.pageSizeBytes}
                  label={`Hugepages ${pageSize(p.pageSizeBytes)}`}
                  total={p.total}
                  allocated={p.used}
                  format={String}
                />
              ))}
              {n.hugepages.length === 0 ? <p className="muted small">No hugepages on this node.</p> : null}
              <h4 className="small">SR-IOV VFs</h4>
              <ul className="plain small">
                {(host.spec?.sriovNics ?? [])
                  .filter((nic) => nic.numaNode === n.id)
                  .map((nic) => {
                    const vu = host.usage?.vfs.find((v) => v.nic === nic.name);
                    return (
                      <li key={nic.name}>
                        {nic.name}: {vu?.used ?? 0}/{nic.vfsTotal} used
                      </li>
                    );
                  })}
              </ul>
              <h4 className="small">VMs on this node</h4>
              <ul className="plain small">
                {vms.length === 0 ? <li className="muted">none</li> : null}
                {vms.map((c) => (
                  <li key={c.vmId}>
                    <Link href={`/vms/${encodeURIComponent(c.vmId)}`}>{c.vmId}</Link> — {c.vcpus} vCPUs, {bytes(c.memoryBytes)}
                    {c.numaCells.filter((x) => x.hostNode === n.id).map((x) => (x.cpus.length ? ` · CPUs ${ranges(x.cpus)}` : ''))}
                  </li>
                ))}
              </ul>
            </section>
          );
        })}
      </div>
      <section className="panel" aria-label="Unpinned VMs" data-testid="unpinned">
        <h3>Unpinned VMs (float over all nodes)</h3>
        <ul className="plain small">
          {unpinned.length === 0 ? <li className="muted">none</li> : null}
          {unpinned.map((c) => (
            <li key={c.vmId}>
              <Link href={`/vms/${encodeURIComponent(c.vmId)}`}>{c.vmId}</Link> — {c.vcpus} vCPUs, {bytes(c.memoryBytes)}
            </li>
          ))}
        </ul>
      </section>
    </>
  );
}

function Devices({ host }: { host: Host }) {
  const devices = host.spec?.pciDevices ?? [];
  if (devices.length === 0 && (host.spec?.sriovNics ?? []).length === 0) return <p className="muted">No PCI devices or SR-IOV NICs.</p>;
  const owner = new Map((host.usage?.devices ?? []).map((d) => [d.address, d.vmId]));
  return (
    <table className="simple">
      <caption className="sr-only">Devices</caption>
      <thead>
        <tr>
          <th scope="col">Address</th>
          <th scope="col">Type</th>
          <th scope="col">NUMA node</th>
          <th scope="col">Held by</th>
        </tr>
      </thead>
      <tbody>
        {devices.map((d) => (
          <tr key={d.address}>
            <td>{d.address}</td>
            <td>{d.type}</td>
            <td>{d.numaNode ?? '—'}</td>
            <td>
              {owner.get(d.address) ? (
                <Link href={`/vms/${encodeURIComponent(owner.get(d.address)!)}`}>{owner.get(d.address)}</Link>
              ) : (
                'free'
              )}
            </td>
          </tr>
        ))}
        {(host.spec?.sriovNics ?? []).map((n) => (
          <tr key={n.name}>
            <td>{n.name}</td>
            <td>SR-IOV NIC ({n.vfsTotal} VFs)</td>
            <td>{n.numaNode}</td>
            <td>{host.usage?.vfs.find((v) => v.nic === n.name)?.used ?? 0} VFs in use</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
