import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import type { Handler, JobContext } from '../../src/index.js';
import * as api from '../../src/index.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

// A handler author's view: this must type-check (npm run typecheck covers test/).
const title: Handler<string> = async (text, job: JobContext) => {
  job.status(1, 1);
  return text.toUpperCase();
};

const kRuntimeExports = [
  'AdminClient',
  'AdminError',
  'Client',
  'ConnectionError',
  'ControlError',
  'ControlServer',
  'DEFAULT_CONTROL_PORT',
  'ErrorCode',
  'ForegroundJob',
  'GearmanError',
  'GearmanServer',
  'JobExceptionError',
  'JobFailedError',
  'JobStoreError',
  'ManifestError',
  'MemoryJobStore',
  'MetricsEndpoint',
  'PacketType',
  'PermanentError',
  'ProtocolError',
  'ServerError',
  'ServerMetrics',
  'SqliteJobStore',
  'Supervisor',
  'TimeoutError',
  'Worker',
  'exponentialBackoff',
  'loadManifest',
  'openSqliteStore',
  'parseControlAddress',
];

/** What a user of ForegroundJob may touch; the controls the client drives it with are not here. */
const kForegroundJobMembers = [
  'created',
  'functionName',
  'handle',
  'result',
  'server',
  'settled',
  'state',
  'then',
  'unique',
];

/** The member names of `className` in the declarations tsc emits for `file`. */
function declaredMembers(file: string, className: string): string[] {
  const program = ts.createProgram([file], {
    declaration: true,
    emitDeclarationOnly: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true,
    skipLibCheck: true,
    // Declarations only: without @types/node the emit is four times faster and names the same members.
    types: [],
    lib: ['lib.es2022.d.ts'],
  });
  let declarations = '';
  program.emit(program.getSourceFile(file), (name, text) => {
    if (name.endsWith('.d.ts')) declarations = text;
  });
  const source = ts.createSourceFile('job.d.ts', declarations, ts.ScriptTarget.ES2022);
  const members: string[] = [];
  source.forEachChild((node) => {
    if (!ts.isClassDeclaration(node) || node.name?.text !== className) return;
    for (const member of node.members) {
      if (member.name !== undefined) members.push(member.name.getText(source));
      else if (ts.isConstructorDeclaration(member)) {
        const visibility = ts.getCombinedModifierFlags(member) & ts.ModifierFlags.Private;
        members.push(visibility ? 'private constructor' : 'constructor');
      }
    }
  });
  return members.sort();
}

describe('the public API', () => {
  it('exports exactly the documented names', () => {
    expect(Object.keys(api).sort()).toEqual(kRuntimeExports);
    expect(typeof title).toBe('function');
  });

  it("declares ForegroundJob with its public members only, none of the client's controls", () => {
    const declared = declaredMembers(`${root}src/client/job.ts`, 'ForegroundJob');
    expect(declared).toEqual(
      ['#private', '[Symbol.asyncIterator]', ...kForegroundJobMembers, 'private constructor'].sort(),
    );
    // At run time too, nothing on a job but what it declares.
    const onPrototype = Object.getOwnPropertyNames(api.ForegroundJob.prototype).filter(
      (name) => name !== 'constructor',
    );
    expect(onPrototype.sort()).toEqual(
      kForegroundJobMembers.filter((name) => name !== 'functionName' && name !== 'unique'),
    );
  }, 20_000);

  it.runIf(existsSync(`${root}dist/index.js`))('loads from plain JavaScript by package name', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        "const m = await import('gworker'); console.log(Object.keys(m).sort().join(','));",
      ],
      { cwd: root },
    );
    expect(stdout.trim()).toBe(kRuntimeExports.join(','));
  });
});
