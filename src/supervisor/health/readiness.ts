import type { FunctionSnapshot } from '../supervisor.js';
import type { LoopHealth } from './loop-monitor.js';

/** One named check of a probe, in the words of Kubernetes' /readyz?verbose. */
export interface ProbeCheck {
  readonly name: string;
  readonly ok: boolean;
  /** Why it failed (null when it passed). */
  readonly reason: string | null;
}

/** What the probes and sd_notify read from the supervisor. */
export interface HealthInputs {
  readonly functions: readonly FunctionSnapshot[];
  readonly draining: boolean;
  readonly loop: LoopHealth;
}

/** /healthz: the process answers and its event loop has not stalled lately. */
export function healthChecks(loop: LoopHealth): ProbeCheck[] {
  return [
    {
      name: 'loop',
      ok: loop.healthy,
      reason: loop.healthy
        ? null
        : `the event loop stalled for ${seconds(loop.worstStallMs)}, ${seconds(loop.stallAgoMs ?? 0)} ago`,
    },
  ];
}

/**
 * /readyz: healthy, not draining, and every function connected to at least one job
 * server (a function with none takes no jobs here, so a load balancer or a rollout
 * should not count this box for it).
 */
export function readinessChecks(inputs: HealthInputs): ProbeCheck[] {
  const checks = healthChecks(inputs.loop);
  checks.push({
    name: 'draining',
    ok: !inputs.draining,
    reason: inputs.draining ? 'draining: no new jobs; running jobs finish, then the process exits' : null,
  });
  for (const fn of inputs.functions) {
    const up = fn.connections.some((c) => c.connected);
    checks.push({
      name: `function:${fn.name}`,
      ok: up,
      reason: up
        ? null
        : `no job server connected (${fn.connections.map((c) => `${c.server}: ${c.lastError ?? 'connecting'}`).join('; ') || 'no servers'})`,
    });
  }
  return checks;
}

/**
 * The servers some function has fewer connections to than it asked for, as
 * "title: 127.0.0.1:4730 0/2 up" (empty when every connection is up): what systemd's
 * READY=1 waits for, and what its STATUS= says is missing.
 */
export function missingConnections(functions: readonly FunctionSnapshot[]): string[] {
  const missing: string[] = [];
  for (const fn of functions) {
    for (const c of fn.connections) {
      if (c.up < c.connections) missing.push(`${fn.name}: ${c.server} ${c.up}/${c.connections} up`);
    }
  }
  return missing;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
