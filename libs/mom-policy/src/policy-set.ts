import { parseText, SyntaxProblem, type Code } from './parser.ts';

/** A policy that does not parse: names the file and the line, and the reason. */
export class PolicyError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly reason: string,
  ) {
    super(`${file}:${line}: ${reason}`);
    this.name = 'PolicyError';
  }
}

/** Where the scanner's catch-all rule swallowed the rest of the text (MOM ignores it silently). */
export interface Swallowed {
  readonly file: string;
  readonly line: number;
}

export interface ParsedPolicy {
  readonly file: string;
  readonly code: readonly Code[];
  readonly swallowed?: Swallowed;
}

/** Parses one file on its own. An empty file (comments only) parses to no code. */
export function parsePolicy(text: string, file: string): ParsedPolicy {
  try {
    const p = parseText(text);
    return p.swallowedAt ? { file, code: p.code, swallowed: { file, line: p.swallowedAt.line } } : { file, code: p.code };
  } catch (e) {
    if (e instanceof SyntaxProblem) {
      if (e.empty) return { file, code: [] };
      throw new PolicyError(file, e.line, e.reason);
    }
    throw e;
  }
}

export interface PolicyFile {
  readonly name: string;
  readonly text: string;
}

/** One segment of the concatenated text: lines [start, start + count) belong to `file`. */
interface Segment {
  readonly file: string;
  readonly start: number;
  readonly count: number;
}

export interface PolicySet {
  /** The files in effect, in MOM's order (sorted by policy name). */
  readonly files: readonly PolicyFile[];
  /** Files MOM would refuse because the set had no expression yet when they were added. */
  readonly dropped: readonly string[];
  /** The text MOM evaluates: the files joined with a newline ("0" when there are none). */
  readonly text: string;
  readonly code: readonly Code[];
  readonly swallowed?: Swallowed;
  /** Maps a line of `text` to file and line (for error messages). */
  locate(line: number | undefined): { file: string; line: number } | undefined;
}

/** MOM's policy name for a file: what precedes the first ".policy" (PolicyEngine.load_policy). */
export function policyName(fileName: string): string {
  const i = fileName.indexOf('.policy');
  return i === -1 ? fileName : fileName.slice(0, i);
}

const byCodePoint = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function join(files: readonly PolicyFile[]): { text: string; segments: Segment[] } {
  const ordered = [...files].sort((a, b) => byCodePoint(policyName(a.name), policyName(b.name)));
  const segments: Segment[] = [];
  let start = 1;
  for (const f of ordered) {
    const count = f.text.split('\n').length;
    segments.push({ file: f.name, start, count });
    start += count; // the joining newline ends the file's last line
  }
  return { text: ordered.map((f) => f.text).join('\n'), segments };
}

function locateIn(segments: readonly Segment[], line: number): { file: string; line: number } | undefined {
  for (const s of segments) if (line >= s.start && line < s.start + s.count) return { file: s.file, line: line - s.start + 1 };
  const last = segments[segments.length - 1];
  return last && { file: last.file, line: last.count };
}

/**
 * Loads policy files the way MOM loads its policy directory: in name order, each file added to the
 * set and the whole concatenation (sorted by policy name, joined by newlines) parsed again; a later
 * file with the same policy name replaces the earlier one. MOM logs a file that breaks the parse and
 * goes on without it; Berth refuses the whole set instead (PolicyError naming the file and line), so
 * the caller keeps its previous set. A file that only leaves the set without any expression is
 * dropped, as MOM drops it.
 */
export function loadPolicySet(files: readonly PolicyFile[]): PolicySet {
  const byName = new Map<string, PolicyFile>();
  for (const f of files) byName.set(policyName(f.name), f);
  const loadOrder = [...byName.values()].sort((a, b) => byCodePoint(a.name, b.name));
  const accepted: PolicyFile[] = [];
  const dropped: string[] = [];
  for (const f of loadOrder) {
    const candidate = [...accepted, f];
    const { text, segments } = join(candidate);
    try {
      parseText(text);
      accepted.push(f);
    } catch (e) {
      if (!(e instanceof SyntaxProblem)) throw e;
      if (e.empty) {
        dropped.push(f.name);
        continue;
      }
      const at = locateIn(segments, e.line);
      const line = at?.file === f.name ? at.line : segments.find((s) => s.file === f.name)!.count;
      throw new PolicyError(f.name, line, at && at.file !== f.name ? `${e.reason} (at ${at.file}:${at.line})` : e.reason);
    }
  }
  const { text, segments } = join(accepted);
  const parsed = parseText(accepted.length > 0 ? text : '0');
  const locate = (line: number | undefined) => (line === undefined ? undefined : locateIn(segments, line));
  const swallowedAt = parsed.swallowedAt && locate(parsed.swallowedAt.line);
  return {
    files: join(accepted).segments.map((s) => accepted.find((f) => f.name === s.file)!),
    dropped,
    text: accepted.length > 0 ? text : '0',
    code: parsed.code,
    ...(swallowedAt ? { swallowed: swallowedAt } : {}),
    locate,
  };
}
