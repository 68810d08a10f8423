import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cliReference, kCliDocPath } from '../../scripts/cli-docs.js';

describe('docs/cli.md', () => {
  it('matches every command’s --help (run `npx tsx scripts/cli-docs.ts` after changing one)', async () => {
    expect(readFileSync(kCliDocPath, 'utf8')).toBe(await cliReference());
  });
});
