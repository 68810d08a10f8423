import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runCliCaptured } from '../helpers/run-cli.js';

// gworker check loads every handler as start would, and with --types type-checks the
// .ts ones (issue 11, "The handler loop").

const kTypeScript = fileURLToPath(new URL('../../node_modules/typescript', import.meta.url));

/** A project folder with a manifest and handler files; `typescript` links the repo's own. */
function project(files: Record<string, string>, options: { typescript?: boolean } = {}): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'gworker-check-load-'));
  writeFileSync(path.join(dir, 'package.json'), '{ "type": "module" }\n');
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  if (options.typescript) {
    mkdirSync(path.join(dir, 'node_modules'));
    symlinkSync(kTypeScript, path.join(dir, 'node_modules', 'typescript'));
  }
  return path.join(dir, 'gworker.yaml');
}

describe('gworker check loads the handlers', () => {
  it('exits 0 when every handler loads', async () => {
    const file = project({
      'gworker.yaml':
        'functions:\n  echo: { handler: ./echo.js }\n  up: { handler: ./up.ts }\n  ls: { command: [ls] }\n',
      'echo.js': 'export default (p) => p;\n',
      'up.ts': 'export default (p: string): string => p.toUpperCase();\n',
    });
    const { code, stderr } = await runCliCaptured(['check', file]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });

  it('reports a syntax error, a throw at import and a missing export, each with its place, and exits 1', async () => {
    const file = project({
      'gworker.yaml':
        'functions:\n  syntax: { handler: ./syntax.js }\n  boom: { handler: ./boom.js }\n  named: { handler: ./named.js }\n',
      'syntax.js': 'const a = 1;\nexport default function f(p) {\n  return a + ) p;\n}\n',
      'boom.js': 'const where = "db";\nthrow new Error("cannot reach " + where);\nexport default () => 1;\n',
      'named.js': 'export const handler = (p) => p;\n',
    });
    const dir = path.dirname(file);
    const { code, stderr } = await runCliCaptured(['check', file]);
    expect(code).toBe(1);
    expect(stderr.split('\n').sort()).toEqual(
      [
        '',
        `boom: cannot load ${dir}/boom.js:2:7: cannot reach db`,
        `named: cannot load ${dir}/named.js: TypeError: no function export "default" (it exports: handler)`,
        `syntax: cannot load ${dir}/syntax.js:3:14: SyntaxError: Unexpected token ')'`,
      ].sort(),
    );
  });
});

describe('gworker check --types', () => {
  const handlers = {
    'gworker.yaml': 'functions:\n  up: { handler: ./up.ts }\n',
    'up.ts': 'export default (p: string): number => p.toUpperCase();\n',
  };

  it("type-checks .ts handlers with the project's TypeScript, at FILE:LINE:COLUMN", async () => {
    const file = project(handlers, { typescript: true });
    const { code, stderr } = await runCliCaptured(['check', '--types', file]);
    expect(stderr).toBe(
      `${path.dirname(file)}/up.ts:1:39: TS2322: Type 'string' is not assignable to type 'number'.\n`,
    );
    expect(code).toBe(1);
    // Without --types the same handler loads and runs: start never type-checks.
    expect((await runCliCaptured(['check', file])).code).toBe(0);
  }, 30_000);

  it('says so when the project has no TypeScript, and fails only with --types', async () => {
    const file = project(handlers);
    const { code, stderr } = await runCliCaptured(['check', '--types', file]);
    expect(stderr).toMatch(/^--types: no TypeScript installed for \S+ or a folder above it/);
    expect(code).toBe(1);
    expect((await runCliCaptured(['check', file])).code).toBe(0);
  });
});
