import { spawn } from 'node:child_process';
import type { CommandFunctionConfig } from '../manifest/types.js';
import type { ProgressSink, RunOutcome } from '../pool/handler-pool.js';
import type { JobMeta } from '../thread/messages.js';

/** Time a command gets to exit after SIGTERM before SIGKILL. */
const kKillGraceMs = 2000;
/** How much of stderr a failure reason quotes. */
const kStderrQuote = 500;

/**
 * Runs one job as a command, like `gearman -w -f NAME -- CMD`: the workload on stdin,
 * stdout as the result (or streamed as WORK_DATA), a non-zero exit as a failure. The
 * command runs in a process group of its own so a timeout ends its children too.
 */
export function runCommand(
  config: CommandFunctionConfig,
  meta: JobMeta,
  payload: Uint8Array,
  sink: ProgressSink,
  signal?: AbortSignal,
): Promise<RunOutcome> {
  const [program, ...args] = config.command as [string, ...string[]];
  return new Promise((resolve) => {
    const child = spawn(program, args, {
      cwd: config.cwd,
      env: {
        ...process.env,
        ...config.env,
        GEARMAN_FUNCTION: meta.functionName,
        GEARMAN_JOB_HANDLE: meta.handle,
        GEARMAN_UNIQUE: meta.unique,
      },
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    const stdout: Buffer[] = [];
    let stderr = '';
    let timedOut = false;
    let settled = false;
    let killTimer: NodeJS.Timeout | undefined;
    const finish = (outcome: RunOutcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(killTimer);
      signal?.removeEventListener('abort', onAbort);
      resolve(outcome);
    };
    const killGroup = (sig: NodeJS.Signals): void => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, sig);
      } catch {
        // Already gone.
      }
    };
    const stop = (): void => {
      killGroup('SIGTERM');
      killTimer = setTimeout(() => killGroup('SIGKILL'), kKillGraceMs);
    };
    const onAbort = (): void => stop();
    const timer =
      config.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            stop();
          }, config.timeoutMs);
    signal?.addEventListener('abort', onAbort, { once: true });

    child.stdout.on('data', (chunk: Buffer) => {
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
      finish({
        ok: false,
        reason: 'crash',
        error: { name: err.name, message: `cannot run ${program}: ${err.message}` },
      });
    });
    child.on('close', (code, sig) => {
      if (timedOut) {
        finish({
          ok: false,
          reason: 'timeout',
          error: { name: 'TimeoutError', message: `timed out after ${config.timeoutMs} ms` },
        });
      } else if (code === 0) {
        finish({ ok: true, result: Buffer.concat(stdout) });
      } else {
        const how = sig === null ? `exited with code ${code}` : `was killed by ${sig}`;
        const detail = stderr.trim().slice(0, kStderrQuote);
        finish({
          ok: false,
          reason: 'handler',
          error: { name: 'CommandError', message: `${program} ${how}${detail ? `: ${detail}` : ''}` },
        });
      }
    });
    child.stdin.end(payload);
  });
}
