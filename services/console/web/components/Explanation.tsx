/** The scheduler's explanation (JSON from Explain / Score) as a table: curve by curve, chosen host first. */
interface Cost {
  costFunction?: string | null;
  vms?: number;
  vcpus?: number;
  memory?: number;
  devices?: Record<string, number>;
  scale?: number;
  offset?: number;
  total?: number;
}
interface Candidate {
  hostId?: string;
  score?: number;
  cost?: Cost;
  weights?: Record<string, unknown>;
}
interface Group {
  reason: string;
  subject?: string;
  hosts: number;
  needed?: number;
  bestAvailable?: number;
  detail?: string;
}

const num = (n: unknown): string => (typeof n === 'number' ? (Number.isFinite(n) ? String(+n.toFixed(3)) : '∞') : n === null ? '∞' : '—');

/** A candidate as the scheduler writes it: `{hostId, hostName, score, breakdown: {cost, weights}}` or flat. */
function normalise(c: Candidate & { hostName?: string; breakdown?: { cost?: Cost; weights?: Record<string, unknown> } }): Candidate {
  return {
    hostId: c.hostName || c.hostId,
    ...(c.score !== undefined ? { score: c.score } : {}),
    ...((c.cost ?? c.breakdown?.cost) ? { cost: c.cost ?? c.breakdown?.cost } : {}),
    ...((c.weights ?? c.breakdown?.weights) ? { weights: c.weights ?? c.breakdown?.weights } : {}),
  };
}

/** The placed explanation: `{summary, chosen, runnersUp}` (Explain, VmPlaced). */
function candidatesOf(parsed: unknown): Candidate[] {
  if (!parsed || typeof parsed !== 'object') return [];
  const o = parsed as Record<string, unknown>;
  const chosen = o['chosen'] as Candidate | undefined;
  const rest = (Array.isArray(o['runnersUp']) ? o['runnersUp'] : Array.isArray(o['alternates']) ? o['alternates'] : []) as Candidate[];
  if (chosen && typeof chosen === 'object') return [chosen, ...rest].map(normalise);
  return [];
}

/** The failed explanation: `{summary, filters: {groups}}`. */
function groupsOf(parsed: unknown): Group[] {
  if (!parsed || typeof parsed !== 'object') return [];
  const o = parsed as { groups?: unknown; filters?: { groups?: unknown } };
  const groups = o.filters?.groups ?? o.groups;
  return Array.isArray(groups) ? (groups as Group[]) : [];
}

export function CostTable({ candidates, caption }: { candidates: readonly Candidate[]; caption: string }) {
  const devices = [...new Set(candidates.flatMap((c) => Object.keys(c.cost?.devices ?? {})))];
  return (
    <table className="simple" data-testid="cost-table">
      <caption className="small muted">{caption}</caption>
      <thead>
        <tr>
          <th scope="col">Host</th>
          <th scope="col">Score</th>
          <th scope="col">vms curve</th>
          <th scope="col">vcpus curve</th>
          <th scope="col">memory curve</th>
          {devices.map((d) => (
            <th key={d} scope="col">
              devices.{d}
            </th>
          ))}
          <th scope="col">scale × sum + offset</th>
          <th scope="col">weights</th>
        </tr>
      </thead>
      <tbody>
        {candidates.map((c, i) => (
          <tr key={`${c.hostId}-${i}`} data-testid={i === 0 ? 'chosen-host' : 'runner-up'}>
            <td>
              {c.hostId}
              {i === 0 ? <strong> (chosen)</strong> : ` (#${i + 1})`}
            </td>
            <td>{num(c.score)}</td>
            <td>{num(c.cost?.vms)}</td>
            <td>{num(c.cost?.vcpus)}</td>
            <td>{num(c.cost?.memory)}</td>
            {devices.map((d) => (
              <td key={d}>{num(c.cost?.devices?.[d])}</td>
            ))}
            <td>
              {num(c.cost?.scale)} × … + {num(c.cost?.offset)} = {num(c.cost?.total)}
            </td>
            <td className="small">
              {Object.entries(c.weights ?? {})
                .filter(([, v]) => typeof v === 'number' && v !== 0)
                .map(([k, v]) => `${k} ${num(v)}`)
                .join(', ') || '—'}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function Explanation({ json, summary }: { json: string; summary?: string }) {
  let parsed: unknown;
  try {
    parsed = json ? JSON.parse(json) : undefined;
  } catch {
    return <pre className="small">{json}</pre>;
  }
  const candidates = candidatesOf(parsed);
  const groups = groupsOf(parsed);
  const ownSummary = parsed && typeof parsed === 'object' ? (parsed as { summary?: unknown }).summary : undefined;
  return (
    <div data-testid="explanation">
      {summary || typeof ownSummary === 'string' ? <p data-testid="explanation-summary">{summary || String(ownSummary)}</p> : null}
      {candidates.length > 0 ? (
        <CostTable candidates={candidates} caption="Cost by curve: lowest score wins; the runners-up follow." />
      ) : null}
      {groups.length > 0 ? (
        <ul data-testid="removal-groups">
          {groups.map((g, i) => (
            <li key={i}>
              {g.hosts} hosts removed by {g.reason}
              {g.subject ? ` (${g.subject})` : ''}
              {g.bestAvailable !== undefined ? `; the best had ${g.bestAvailable} free of ${g.needed ?? '?'} needed` : ''}
              {g.detail ? ` — ${g.detail}` : ''}
            </li>
          ))}
        </ul>
      ) : null}
      {candidates.length === 0 && groups.length === 0 && json ? <pre className="small">{json.slice(0, 2000)}</pre> : null}
    </div>
  );
}

export type { Candidate };
