import { expect } from 'vitest';
import { formatIssue, ManifestError } from '../../src/supervisor/manifest/errors.js';

/**
 * The problems a manifest load reports, each as `FILE:LINE:COLUMN: SETTING: message`;
 * throws when `load` accepts the manifest, so a test of a refusal cannot pass by accident.
 */
export function rejectedIssues(load: () => unknown): string[] {
  try {
    load();
  } catch (err) {
    expect(err).toBeInstanceOf(ManifestError);
    return (err as ManifestError).issues.map(formatIssue);
  }
  throw new Error('expected the manifest to be rejected');
}
