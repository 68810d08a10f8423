// Writes docs/cli.md from the commands' own --help texts, so the reference cannot drift
// from the code. test/cli/cli-docs.test.ts fails when the file is stale:
//   npx tsx scripts/cli-docs.ts
import { writeFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { commandNames, runCli } from '../src/cli/dispatch.js';

async function helpOf(argv: string[]): Promise<string> {
  const stdout = new PassThrough();
  let text = '';
  stdout.on('data', (d: Buffer) => {
    text += d.toString();
  });
  await runCli(argv, { stdin: new PassThrough(), stdout, stderr: new PassThrough(), env: {} });
  return text.trimEnd();
}

/** The whole reference as markdown. */
export async function cliReference(): Promise<string> {
  const parts = [
    '# CLI reference',
    '',
    'Generated from `gworker <command> --help` by `npx tsx scripts/cli-docs.ts`; edit the',
    'commands, not this file.',
    '',
    '```',
    await helpOf(['--help']),
    '```',
  ];
  for (const name of commandNames()) {
    parts.push('', `## gworker ${name}`, '', '```', await helpOf([name, '--help']), '```');
  }
  return `${parts.join('\n')}\n`;
}

export const kCliDocPath = fileURLToPath(new URL('../docs/cli.md', import.meta.url));

if (import.meta.url === `file://${process.argv[1]}`) {
  writeFileSync(kCliDocPath, await cliReference());
}
