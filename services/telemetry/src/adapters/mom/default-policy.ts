import { readdir, readFile } from 'node:fs/promises';
import type { PolicyFile } from '../../domain/policy/policy.ts';

/** Berth's own default policy (policies/default), recorded as the `default` scope on first start. */
export async function readPolicyDir(dir: string): Promise<PolicyFile[]> {
  const names = (await readdir(dir)).filter((n) => n.endsWith('.policy')).sort();
  return Promise.all(names.map(async (name) => ({ name, text: await readFile(`${dir}/${name}`, 'utf8') })));
}

export const DEFAULT_POLICY_DIR = new URL('../../../policies/default', import.meta.url).pathname;
