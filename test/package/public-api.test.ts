import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import type { Handler, JobContext } from '../../src/index.js';
import * as api from '../../src/index.js';
import * as serverApi from '../../src/server/index.js';
import * as supervisorApi from '../../src/supervisor/index.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

// A handler author's view: this must type-check (npm run typecheck covers test/).
const title: Handler<string> = async (text, job: JobContext) => {
  job.status(1, 1);
  return text.toUpperCase();
};

/** `gworker`: the client, the worker, the admin client, the errors, what a handler module needs. */
const kRuntimeExports = [
  'AdminClient',
  'AdminError',
  'Client',
  'ConnectionError',
  'ErrorCode',
  'ForegroundJob',
  'GearmanError',
  'JobExceptionError',
  'JobFailedError',
  'JobStoreError',
  'PacketType',
  'PermanentError',
  'ProtocolError',
  'ServerError',
  'TimeoutError',
  'Worker',
  'exponentialBackoff',
];

/** `gworker/server`: the embedded job server, its stores and metrics. */
const kServerExports = [
  'GearmanServer',
  'MemoryJobStore',
  'MetricsEndpoint',
  'ServerMetrics',
  'SqliteJobStore',
  'openSqliteStore',
];

/** `gworker/supervisor`: the Supervisor, manifest loading, the control API. */
const kSupervisorExports = [
  'ControlError',
  'ControlServer',
  'DEFAULT_CONTROL_PORT',
  'ManifestError',
  'Supervisor',
  'loadManifest',
  'parseControlAddress',
];

/** The type-only names of each entry, beside its run-time ones. */
const kTypeExports: Record<string, readonly string[]> = {
  gworker: [
    'AdminClientOptions',
    'BackgroundOptions',
    'BackoffPolicy',
    'ClientOptions',
    'CloseOptions',
    'ExponentialBackoffOptions',
    'FunctionPriorityStatus',
    'FunctionStatus',
    'GrabGate',
    'GrabMode',
    'Handler',
    'Job',
    'JobContext',
    'JobEndEvent',
    'JobHandler',
    'JobInfo',
    'JobOutcome',
    'JobResult',
    'JobState',
    'JobStatus',
    'JobStoreFailure',
    'JobUpdate',
    'Logger',
    'MaxQueueSizes',
    'Priority',
    'ProtocolFailure',
    'RegisterOptions',
    'ServerAddress',
    'ServerOption',
    'SubmitOptions',
    'TlsOptions',
    'UniqueJobStatus',
    'WorkerEvents',
    'WorkerInfo',
    'WorkerOptions',
  ],
  'gworker/server': [
    'CachedResult',
    'ConnectionStats',
    'GearmanServerOptions',
    'HttpGatewayOptions',
    'JobPriority',
    'JobStore',
    'MetricsEndpointOptions',
    'MetricsSource',
    'ReplayReport',
    'ResultCacheOptions',
    'ResultCacheStats',
    'ServerCloseOptions',
    'ServerFunctionStats',
    'ServerMetricsOptions',
    'ServerTlsOptions',
    'SqliteStoreOptions',
    'SqliteSync',
    'StoreHealth',
    'StoreKey',
    'StoredJob',
  ],
  'gworker/supervisor': [
    'ControlListen',
    'ControlServerOptions',
    'FunctionConfig',
    'FunctionReport',
    'Manifest',
    'ManifestIssue',
    'RetryCause',
    'RetryPolicy',
    'ServerConfig',
    'ServerReport',
    'StatusDocument',
    'SupervisorOptions',
  ],
};

/** Each entry by the name a consumer imports it by. */
const kEntries: ReadonlyArray<[specifier: string, names: readonly string[]]> = [
  ['gworker', kRuntimeExports],
  ['gworker/server', kServerExports],
  ['gworker/supervisor', kSupervisorExports],
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

/** The source file of an entry: `gworker/server` → src/server/index.ts. */
function sourceOf(specifier: string): string {
  return `${root}src/${specifier === 'gworker' ? '' : `${specifier.slice('gworker/'.length)}/`}index.ts`;
}

/** Every name each entry declares, types and values, as tsc sees them. */
function declaredExports(files: readonly string[]): string[][] {
  const program = ts.createProgram(files, {
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    skipLibCheck: true,
    types: [],
    lib: ['lib.es2022.d.ts'],
  });
  const checker = program.getTypeChecker();
  return files.map((file) => {
    const source = program.getSourceFile(file);
    const module = source === undefined ? undefined : checker.getSymbolAtLocation(source);
    if (module === undefined) throw new Error(`tsc did not load ${file}`);
    return checker
      .getExportsOfModule(module)
      .map((symbol) => symbol.name)
      .sort();
  });
}

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
  it('exports exactly the documented names from each entry', () => {
    expect(Object.keys(api).sort()).toEqual(kRuntimeExports);
    expect(Object.keys(serverApi).sort()).toEqual(kServerExports);
    expect(Object.keys(supervisorApi).sort()).toEqual(kSupervisorExports);
    expect(typeof title).toBe('function');
  });

  it('declares exactly the documented types beside those names, in each entry', () => {
    const declared = declaredExports(kEntries.map(([specifier]) => sourceOf(specifier)));
    expect(declared).toEqual(
      kEntries.map(([specifier, names]) => [...names, ...(kTypeExports[specifier] ?? [])].sort()),
    );
  }, 20_000);

  it('names every entry in package.json exports, each with its types first', () => {
    const manifest = JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as {
      exports: Record<string, Record<string, string> | string>;
    };
    const subpaths = Object.keys(manifest.exports).filter((key) => key !== './package.json');
    expect(subpaths).toEqual(kEntries.map(([specifier]) => specifier.replace(/^gworker/, '.')));
    for (const [subpath, conditions] of Object.entries(manifest.exports)) {
      if (typeof conditions === 'string') continue;
      // TypeScript takes the first condition that matches: `types` must come before `import`.
      expect(Object.keys(conditions)[0], subpath).toBe('types');
      const source = (conditions.import ?? '').replace(/^\.\/dist\//, 'src/').replace(/\.js$/, '.ts');
      expect(existsSync(`${root}${source}`), `${subpath} -> ${source}`).toBe(true);
      expect(conditions.types).toBe(conditions.import?.replace(/\.js$/, '.d.ts'));
    }
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

  it.runIf(existsSync(`${root}dist/index.js`))(
    'loads each entry from plain JavaScript by package name',
    async () => {
      const script = `const names = {};
      for (const specifier of ${JSON.stringify(kEntries.map(([specifier]) => specifier))})
        names[specifier] = Object.keys(await import(specifier)).sort();
      console.log(JSON.stringify(names));`;
      const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
        cwd: root,
      });
      expect(JSON.parse(stdout)).toEqual(Object.fromEntries(kEntries));
    },
    20_000,
  );
});
