import type { ProbeCheck } from './readiness.js';

export interface ProbeReply {
  readonly status: 200 | 503;
  /** Plain text, as Kubernetes' own /healthz and /readyz answer. */
  readonly body: string;
}

/**
 * A probe's answer in Kubernetes' conventions: 200 "ok" when every check passes; 503 with
 * a `[-]name failed: reason` line per failed check and "NAME check failed". `verbose` lists
 * every check, passed ones as `[+]name ok`. `withhold` replaces the reasons by "reason
 * withheld" (Kubernetes' words), for callers who may probe but not read the box's state.
 */
export function probeReply(
  probe: 'healthz' | 'readyz',
  checks: readonly ProbeCheck[],
  options: { verbose: boolean; withhold: boolean },
): ProbeReply {
  const ok = checks.every((check) => check.ok);
  if (ok && !options.verbose) return { status: 200, body: 'ok\n' };
  const lines = checks
    .filter((check) => options.verbose || !check.ok)
    .map((check) =>
      check.ok
        ? `[+]${check.name} ok`
        : `[-]${check.name} failed: ${options.withhold ? 'reason withheld' : check.reason}`,
    );
  lines.push(`${probe} check ${ok ? 'passed' : 'failed'}`);
  return { status: ok ? 200 : 503, body: `${lines.join('\n')}\n` };
}
