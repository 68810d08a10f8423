import { readFileSync } from 'node:fs';
import { nearest } from './args/suggest.js';
import type { CliCommand, CliIo } from './io.js';
import { UsageError } from './io.js';

/** Each command lives in its own module, loaded only when it is run. */
const commands: Record<string, { summary: string; load: () => Promise<CliCommand> }> = {
  start: {
    summary: 'run the functions of a manifest (the embedded job server too, when it names none)',
    load: async () => (await import('./commands/start.js')).startCommand,
  },
  check: {
    summary: 'validate a manifest and print the configuration it resolves to',
    load: async () => (await import('./commands/check.js')).checkCommand,
  },
  server: {
    summary: 'run a Gearman job server (gearmand 1.1.20 compatible)',
    load: async () => (await import('./commands/server.js')).serverCommand,
  },
  submit: {
    summary: 'submit a job (or one per line of a file: --batch) and print its output or handle',
    load: async () => (await import('./commands/submit.js')).submitCommand,
  },
  admin: {
    summary: 'query or change a job server over the text admin protocol',
    load: async () => (await import('./commands/admin.js')).adminCommand,
  },
  status: {
    summary: "print a running supervisor's functions, connections and queues",
    load: async () => (await import('./commands/status.js')).statusCommand,
  },
  top: {
    summary: 'watch a running supervisor live (q to quit)',
    load: async () => (await import('./commands/top.js')).topCommand,
  },
  scale: {
    summary: "change a function's concurrency on a running supervisor",
    load: async () => (await import('./commands/scale.js')).scaleCommand,
  },
  pause: {
    summary: 'stop a running supervisor taking jobs of a function (running jobs finish)',
    load: async () => (await import('./commands/pause.js')).pauseCommand,
  },
  resume: {
    summary: 'let a running supervisor take jobs of a paused function again',
    load: async () => (await import('./commands/resume.js')).resumeCommand,
  },
  reload: {
    summary: "reload a running supervisor's manifest and handler code",
    load: async () => (await import('./commands/reload.js')).reloadCommand,
  },
  failed: {
    summary: "list, show, retry or purge a running supervisor's failure records",
    load: async () => (await import('./commands/failed.js')).failedCommand,
  },
  drain: {
    summary: 'stop a running supervisor gracefully: no new jobs, finish, exit',
    load: async () => (await import('./commands/drain.js')).drainCommand,
  },
};

function usage(): string {
  const lines = ['usage: gworker <command> [options]', '       gworker --version', '', 'commands:'];
  for (const [name, { summary }] of Object.entries(commands)) lines.push(`  ${name.padEnd(10)} ${summary}`);
  lines.push('', "Run 'gworker <command> --help' for a command's options.");
  return `${lines.join('\n')}\n`;
}

/** The package's version, from its package.json (src/cli and dist/cli are both two levels down). */
export function version(): string {
  const file = new URL('../../package.json', import.meta.url);
  return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
}

/** Every command's name, in the order `gworker --help` lists them. */
export function commandNames(): string[] {
  return Object.keys(commands);
}

export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(usage());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-V') {
    io.stdout.write(`gworker ${version()}\n`);
    return 0;
  }
  const entry = Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (entry === undefined) {
    const guess = nearest(name.replace(/^-+/, ''), Object.keys(commands));
    const hint = guess === undefined ? '' : ` (did you mean ${guess}?)`;
    io.stderr.write(`gworker: unknown command "${name}"${hint}\nRun 'gworker --help'.\n`);
    return 2;
  }
  try {
    const command = await entry.load();
    return await command(rest, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`gworker ${name}: ${err.message}\nRun 'gworker ${name} --help'.\n`);
      return 2;
    }
    const message = err instanceof Error ? err.message : String(err);
    io.stderr.write(`gworker ${name}: ${message}\n`);
    return 1;
  }
}
