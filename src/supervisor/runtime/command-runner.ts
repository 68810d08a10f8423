import { spawn } from 'node:child_process';
import type { CommandFunctionConfig } from '../manifest/types.js';
import { formatSize } from '../manifest/units.js';
import type { ProgressSink, RunOutcome } from '../pool/handler-pool.js';
import type { JobMeta } from '../thread/messages.js';
import { releaseGroup, signalGroup, trackGroup } from './process-group.js';

/** Time a command gets to exit after SIGTERM before SIGKILL. */
const kKillGraceMs = 2000;
/**
 * Time the pipes may stay open after the command itself exited, while something it
 * started still holds them: then its group is killed, and after as long again (a process
 * that left the group holds them) the pipes are closed on our side.
 */
const kExitGraceMs = 250;
/** How much of stderr a failure reason quotes. */
const kStderrQuote = 500;
/** Stdout a command may produce when its function sets no maxOutput. */
export const kDefaultMaxOutputBytes = 64 * 1024 ** 2;

export interface CommandStops {
  /** The job's own signal (its connection dropped): SIGTERM, then SIGKILL after a grace period. */
  readonly signal?: AbortSignal;
  /** The shutdown deadline passed: SIGKILL the group now; the reason is the job's. */
  readonly cutoff?: AbortSignal;
}

/**
 * Runs one job as a command, like `gearman -w -f NAME -- CMD`: the workload on stdin,
 * stdout as the result (or streamed as WORK_DATA), a non-zero exit as a failure. The
 * command runs in a process group of its own: a timeout, a shutdown or too much output
 * ends the whole group, and once the command exits whatever it left in its group is
 * killed, so nothing it started outlives its job.
 */
export function runCommand(
  config: CommandFunctionConfig,
  meta: JobMeta,
  payload: Uint8Array,
  sink: ProgressSink,
  stops: CommandStops = {},
): Promise<RunOutcome> {
  const [program, ...args] = config.command as [string, ...string[]];
  const maxOutput = config.maxOutputBytes ?? kDefaultMaxOutputBytes;
  const { signal, cutoff } = stops;
  return new Promise((resolve) => {
    const child = spawn(program, args, {
      cwd: config.cwd,
      env: {
        ...process.env,
        ...config.env,
        GEARMAN_FUNCTION: meta.functionName,
        GEARMAN_JOB_HANDLE: meta.handle,
        GEARMAN_UNIQUE: meta.unique,
        GWORKER_ATTEMPT: String(meta.attempt ?? 1),
      },
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    const pid = child.pid;
    if (pid !== undefined) trackGroup(pid);
    const stdout: Buffer[] = [];
    let outputBytes = 0;
    let stderr = '';
    /** Why we ended the command, when we did: it wins over how the process exited. */
    let endedBy: RunOutcome | null = null;
    let settled = false;
    let killTimer: NodeJS.Timeout | undefined;
    let exitTimer: NodeJS.Timeout | undefined;
    const killGroup = (sig: NodeJS.Signals): void => {
      if (pid !== undefined) signalGroup(pid, sig);
    };
    const finish = (outcome: RunOutcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(killTimer);
      clearTimeout(exitTimer);
      signal?.removeEventListener('abort', onAbort);
      cutoff?.removeEventListener('abort', onCutoff);
      if (pid !== undefined) {
        // Leftovers that did not hold its pipes (`sleep 1000 >/dev/null &`) end here.
        killGroup('SIGKILL');
        releaseGroup(pid);
      }
      resolve(outcome);
    };
    const end = (why: RunOutcome, sig: NodeJS.Signals): void => {
      endedBy ??= why;
      killGroup(sig);
      if (sig === 'SIGTERM') killTimer ??= setTimeout(() => killGroup('SIGKILL'), kKillGraceMs);
    };
    const onAbort = (): void => {
      const reason = signal?.reason instanceof Error ? signal.reason.message : 'the job was abandoned';
      end(failure('handler', 'AbortError', reason), 'SIGTERM');
    };
    const onCutoff = (): void => {
      const reason = cutoff?.reason instanceof Error ? cutoff.reason.message : 'the supervisor stopped';
      end(failure('stopped', 'Error', reason), 'SIGKILL');
    };
    const timer =
      config.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            const message = `timed out after ${config.timeoutMs} ms`;
            end(failure('timeout', 'TimeoutError', message), 'SIGTERM');
          }, config.timeoutMs);
    signal?.addEventListener('abort', onAbort, { once: true });
    cutoff?.addEventListener('abort', onCutoff, { once: true });
    if (signal?.aborted) onAbort();
    if (cutoff?.aborted) onCutoff();

    child.stdout.on('data', (chunk: Buffer) => {
      if (endedBy !== null) return;
      outputBytes += chunk.length;
      if (outputBytes > maxOutput) {
        // Collected without a bound, `cat /dev/zero` took the whole box down (issue 10).
        const message = `its output passed maxOutput (${formatSize(maxOutput)}); the command was killed`;
        end(failure('handler', 'CommandError', `${program}: ${message}`), 'SIGKILL');
        child.stdout.destroy();
        return;
      }
      if (config.output === 'stream') sink.data(chunk);
      else stdout.push(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      if (stderr.length < kStderrQuote * 2) stderr += chunk.toString('utf8');
    });
    child.stdin.on('error', () => {
      // A command that does not read its stdin (ls) closes the pipe early: not an error.
    });
    child.on('error', (err) => {
      finish(failure('crash', err.name, `cannot run ${program}: ${err.message}`));
    });
    child.on('exit', () => {
      if (settled) return;
      // A child it started may hold stdout open for good (`sleep 1000 & echo hi`): the job
      // ends with what the command wrote, shortly after the command itself.
      exitTimer = setTimeout(() => {
        killGroup('SIGKILL');
        exitTimer = setTimeout(() => {
          child.stdout.destroy();
          child.stderr.destroy();
        }, kExitGraceMs);
      }, kExitGraceMs);
    });
    child.on('close', (code, sig) => {
      if (endedBy !== null) {
        finish(endedBy);
      } else if (code === 0) {
        finish({ ok: true, result: Buffer.concat(stdout) });
      } else {
        const how = sig === null ? `exited with code ${code}` : `was killed by ${sig}`;
        const detail = stderr.trim().slice(0, kStderrQuote);
        finish(failure('handler', 'CommandError', `${program} ${how}${detail ? `: ${detail}` : ''}`));
      }
    });
    child.stdin.end(payload);
  });
}

function failure(
  reason: 'handler' | 'timeout' | 'crash' | 'stopped',
  name: string,
  message: string,
): RunOutcome {
  return { ok: false, reason, error: { name, message } };
}
