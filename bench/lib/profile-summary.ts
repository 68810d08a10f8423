/**
 * Summarises `.cpuprofile` files (from `npm run bench -- --profile DIR`): self time per
 * function, heaviest first, with file and line, so "where does the time go" has an
 * answer without opening DevTools.
 *
 *   npx tsx bench/lib/profile-summary.ts DIR_OR_FILE... [--top N]
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { kRepoRoot } from './processes.js';

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: number[];
}

interface CpuProfile {
  readonly nodes: ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples: number[];
  readonly timeDeltas: number[];
}

/** Self time in microseconds per `function (file:line)`, and the profile's total. */
export function selfTimes(profile: CpuProfile): { total: number; byFunction: Map<string, number> } {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const byFunction = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    const frame = byId.get(id)?.callFrame;
    if (frame === undefined) return;
    const where = frame.url === '' ? '' : ` ${shorten(frame.url)}:${frame.lineNumber + 1}`;
    const key = `${frame.functionName || '(anonymous)'}${where}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + delta);
    total += delta;
  });
  return { total, byFunction };
}

function shorten(url: string): string {
  const path = url.startsWith('file://') ? new URL(url).pathname : url;
  return path.startsWith(kRepoRoot) ? relative(kRepoRoot, path) : path;
}

function profileFiles(paths: readonly string[]): string[] {
  return paths.flatMap((path) =>
    statSync(path).isDirectory()
      ? readdirSync(path)
          .filter((name) => name.endsWith('.cpuprofile'))
          .sort()
          .map((name) => join(path, name))
      : [path],
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values, positionals } = parseArgs({
    options: { top: { type: 'string', default: '25' } },
    allowPositionals: true,
  });
  for (const file of profileFiles(positionals)) {
    const { total, byFunction } = selfTimes(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile);
    if (total < 50_000) continue; // a helper thread (tsx's loader) with next to nothing in it
    console.log(`${file}: ${(total / 1000).toFixed(0)} ms sampled`);
    const rows = [...byFunction.entries()].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top));
    for (const [name, us] of rows) {
      console.log(
        `  ${((100 * us) / total).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(1).padStart(7)} ms  ${name}`,
      );
    }
  }
}
