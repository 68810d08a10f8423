import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';

/** Environment variable through which the runner's `--profile DIR` reaches a Node child. */
export const kProfileEnv = 'GWORKER_BENCH_PROFILE_DIR';

/**
 * Starts the V8 sampling profiler in this process if the runner asked for profiles, and
 * returns the function that stops it and writes `<name>-<pid>.cpuprofile`. Unlike
 * `node --cpu-prof`, this covers only the timed part: module loading and the warm-up
 * (tsx compiling TypeScript, most of a whole-process profile) stay out of it.
 */
export async function startProfile(name: string): Promise<() => Promise<void>> {
  const dir = process.env[kProfileEnv];
  if (dir === undefined || dir === '') return async () => {};
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  // 100 us: a tiny job takes a few microseconds, so a finer interval mostly measures itself.
  await session.post('Profiler.setSamplingInterval', { interval: 100 });
  await session.post('Profiler.start');
  return async () => {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(join(dir, `${name}-${process.pid}.cpuprofile`), JSON.stringify(profile));
    session.disconnect();
  };
}
