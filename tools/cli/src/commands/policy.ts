import { readdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { evaluateInterval, loadPolicySet, parseJson, PolicyError, toJson, type EvalInput, type PolicyFile } from '@berth/mom-policy';
import { UsageError } from '../errors.ts';
import type { CommandSpec, Context } from './types.ts';

/**
 * Policy files named on the command line; a directory stands for its `*.policy` files (not the
 * hidden ones), as MOM reads its policy-dir. Each file is known by its base name, which orders the set.
 */
export async function readPolicies(paths: readonly string[], ctx: Context): Promise<PolicyFile[]> {
  const files: PolicyFile[] = [];
  for (const path of paths) {
    try {
      files.push({ name: basename(path), text: await ctx.readFile(path) });
    } catch (e) {
      if (!(e instanceof Error && 'code' in e && e.code === 'EISDIR')) throw e;
      const names = (await readdir(path)).filter((n) => n.endsWith('.policy') && !n.startsWith('.')).sort();
      for (const name of names) files.push({ name, text: await ctx.readFile(join(path, name)) });
    }
  }
  return files;
}

export const policyCommands: readonly CommandSpec[] = [
  {
    words: ['policy', 'eval'],
    args: [],
    variadic: true,
    summary: 'evaluate one interval of MOM policy files offline (input JSON on stdin), print one JSON object',
    options: {
      policy: {
        type: 'string',
        multiple: true,
        value: 'FILE|DIR',
        help: 'policy file or directory (repeat it, or list more files after it)',
      },
    },
    async run(input, ctx) {
      const paths = [...input.list('policy'), ...input.rest];
      if (paths.length === 0) throw new UsageError('--policy', 'name at least one policy file or directory');
      let set;
      try {
        set = loadPolicySet(await readPolicies(paths, ctx));
      } catch (e) {
        if (e instanceof PolicyError) throw new UsageError('--policy', e.message);
        throw e;
      }
      let evalInput: unknown;
      try {
        evalInput = parseJson(await ctx.readStdin());
      } catch (e) {
        throw new UsageError('stdin', e instanceof Error ? e.message : String(e));
      }
      // evaluateInterval validates the shape itself and answers ok:false naming the field.
      const out = evaluateInterval(set, evalInput as EvalInput);
      const text = toJson(out);
      if (set.swallowed)
        ctx.progress(
          `warning: ${set.swallowed.file}:${set.swallowed.line}: an unrecognised character; MOM ignores the rest of the policy from there`,
        );
      return { json: out, jsonText: text, text, exitCode: out.ok === true ? 0 : 1 };
    },
  },
];
