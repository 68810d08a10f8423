import { ErrorCode, GearmanError } from '../../errors.js';

/** One thing wrong in a manifest, pointing at the spot in the file. */
export interface ManifestIssue {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  /** The setting's path, e.g. `functions.title.concurrency`. */
  readonly path: string;
  /** What was expected, or what is wrong. */
  readonly message: string;
}

export function formatIssue(issue: ManifestIssue): string {
  const where = issue.path ? ` ${issue.path}:` : '';
  return `${issue.file}:${issue.line}:${issue.column}:${where} ${issue.message}`;
}

/** A manifest that cannot run; `issues` lists every problem found, not just the first. */
export class ManifestError extends GearmanError {
  readonly issues: readonly ManifestIssue[];
  constructor(unsorted: readonly ManifestIssue[]) {
    // In file order, as an editor would walk them.
    const issues = [...unsorted].sort((a, b) => a.line - b.line || a.column - b.column);
    const count = issues.length === 1 ? '1 problem' : `${issues.length} problems`;
    super(ErrorCode.MANIFEST, `invalid manifest (${count}):\n${issues.map(formatIssue).join('\n')}`);
    this.name = 'ManifestError';
    this.issues = issues;
  }
}
