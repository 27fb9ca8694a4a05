import { useState } from 'react';
import { useLocation } from 'wouter';
import { useMutation } from '@tanstack/react-query';
import { CpuPolicy, MigrationMode, SlaTier } from '@berth/proto/berth/model/v1/vm.ts';
import { commandMeta, rpc } from '../client.ts';
import { CostTable, type Candidate } from '../components/Explanation.tsx';

const GiB = 1024 ** 3;

interface Form {
  name: string;
  vcpus: number;
  memoryGiB: number;
  dedicated: boolean;
  hugepages: string;
  sla: SlaTier;
  pool: string;
  mode: MigrationMode;
  tags: string;
}

const initial: Form = {
  name: '',
  vcpus: 2,
  memoryGiB: 4,
  dedicated: false,
  hugepages: '',
  sla: SlaTier.SLA_TIER_UNSPECIFIED,
  pool: '',
  mode: MigrationMode.MIGRATION_MODE_UNSPECIFIED,
  tags: '',
};

function specOf(f: Form) {
  return {
    name: f.name,
    vcpus: f.vcpus,
    memoryBytes: Math.round(f.memoryGiB * GiB),
    cpuPolicy: f.dedicated ? CpuPolicy.CPU_POLICY_DEDICATED : CpuPolicy.CPU_POLICY_UNSPECIFIED,
    ...(f.hugepages ? { hugepageSizeBytes: Number(f.hugepages) } : {}),
    slaTier: f.sla,
    resourcePool: f.pool,
    tags: f.tags
      .split(',')
      .map((t) => t.trim())
      .filter(Boolean),
  };
}

/** Compose a VM: the placement preview (Score) before submitting, then ComposeVm and the VM's page. */
export function ComposePage() {
  const [form, setForm] = useState<Form>(initial);
  const [, navigate] = useLocation();
  const preview = useMutation({
    mutationFn: (f: Form) =>
      rpc('scheduler', 'score', { vm: specOf(f), limit: 4, excludedHosts: [], explain: { hosts: [], missing: true } }),
  });
  const submit = useMutation({
    mutationFn: (f: Form) => {
      const vmId = `${f.name.replace(/[^a-z0-9-]/gi, '-').toLowerCase()}-${crypto.randomUUID().slice(0, 8)}`;
      return rpc('inventory', 'composeVm', { meta: commandMeta('compose'), vmId, spec: { ...specOf(f), migrationMode: f.mode } });
    },
    onSuccess: (r) => navigate(`/vms/${encodeURIComponent(r.vm?.vmId ?? '')}`),
  });
  const update = <K extends keyof Form>(k: K, v: Form[K]) => {
    setForm((f) => ({ ...f, [k]: v }));
    preview.reset();
  };
  const p = preview.data;
  const candidates: Candidate[] = (p?.hosts ?? []).map((h) => ({
    hostId: h.hostName || h.hostId,
    score: h.score,
    ...(JSON.parse(h.breakdownJson || '{}') as Candidate),
  }));
  const whyNotSubmit = !form.name ? 'give the VM a name' : !p ? 'preview the placement first' : undefined;
  return (
    <>
      <h1>Compose a VM</h1>
      <form
        className="panel"
        onSubmit={(e) => {
          e.preventDefault();
          preview.mutate(form);
        }}
      >
        <div className="form">
          <label>
            Name
            <input required value={form.name} onChange={(e) => update('name', e.target.value)} />
          </label>
          <label>
            vCPUs
            <input type="number" min={1} value={form.vcpus} onChange={(e) => update('vcpus', Number(e.target.value))} />
          </label>
          <label>
            Memory (GiB)
            <input
              type="number"
              min={0.125}
              step={0.125}
              value={form.memoryGiB}
              onChange={(e) => update('memoryGiB', Number(e.target.value))}
            />
          </label>
          <label>
            CPU policy
            <select value={form.dedicated ? 'dedicated' : 'shared'} onChange={(e) => update('dedicated', e.target.value === 'dedicated')}>
              <option value="shared">shared</option>
              <option value="dedicated">dedicated (pinned)</option>
            </select>
          </label>
          <label>
            Hugepages
            <select value={form.hugepages} onChange={(e) => update('hugepages', e.target.value)}>
              <option value="">none</option>
              <option value={String(2 * 1024 ** 2)}>2 MiB</option>
              <option value={String(GiB)}>1 GiB</option>
            </select>
          </label>
          <label>
            SLA class
            <select value={form.sla} onChange={(e) => update('sla', Number(e.target.value) as SlaTier)}>
              <option value={SlaTier.SLA_TIER_UNSPECIFIED}>none</option>
              <option value={SlaTier.SLA_TIER_PLATINUM}>platinum</option>
              <option value={SlaTier.SLA_TIER_GOLD}>gold</option>
              <option value={SlaTier.SLA_TIER_SILVER}>silver</option>
              <option value={SlaTier.SLA_TIER_VAPOR}>vapor</option>
            </select>
          </label>
          <label>
            Resource pool
            <input value={form.pool} onChange={(e) => update('pool', e.target.value)} placeholder="default" />
          </label>
          <label>
            Migration mode
            <select value={form.mode} onChange={(e) => update('mode', Number(e.target.value) as MigrationMode)}>
              <option value={MigrationMode.MIGRATION_MODE_UNSPECIFIED}>default</option>
              <option value={MigrationMode.MIGRATION_MODE_MANUAL_AND_AUTOMATIC}>manual and automatic</option>
              <option value={MigrationMode.MIGRATION_MODE_MANUAL}>manual</option>
              <option value={MigrationMode.MIGRATION_MODE_NONE}>none</option>
            </select>
          </label>
          <label>
            Tags (comma-separated)
            <input value={form.tags} onChange={(e) => update('tags', e.target.value)} />
          </label>
        </div>
        <p>
          <button type="submit">Preview placement</button>
        </p>
      </form>
      {preview.error ? (
        <p className="error" role="alert">
          {preview.error.message}
        </p>
      ) : null}
      {p ? (
        <section className="panel" aria-labelledby="preview-h" data-testid="placement-preview" data-fits={p.fits}>
          <h2 id="preview-h">Where it would go</h2>
          <p>{p.fits ? p.summary : `No host fits: ${p.missingSummary || p.summary}`}</p>
          <p className="muted small">{p.hostsConsidered} hosts considered.</p>
          {candidates.length > 0 ? <CostTable candidates={candidates} caption="Ranked hosts, cost by curve" /> : null}
          {p.rejections.length > 0 ? (
            <ul className="small">
              {p.rejections.slice(0, 10).map((r) => (
                <li key={r.hostId}>
                  {r.hostName || r.hostId}: {r.reasons.map((x) => `${x.filter}: ${x.detail}`).join('; ')}
                </li>
              ))}
            </ul>
          ) : null}
        </section>
      ) : null}
      <p>
        <button
          type="button"
          className="primary"
          disabled={whyNotSubmit !== undefined}
          aria-describedby="submit-why"
          onClick={() => submit.mutate(form)}
          data-testid="compose-submit"
        >
          Compose
        </button>{' '}
        <span id="submit-why" className="why-not">
          {whyNotSubmit ?? (p && !p.fits ? 'no host fits now: it would wait or fail (see above)' : '')}
        </span>
      </p>
      {submit.error ? (
        <p className="error" role="alert">
          {submit.error.message}
        </p>
      ) : null}
    </>
  );
}
