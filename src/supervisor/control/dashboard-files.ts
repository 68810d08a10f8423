import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface StaticFile {
  readonly body: Buffer;
  readonly type: string;
}

const kFiles: Readonly<Record<string, { file: string; type: string }>> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/index.html': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/charts.js': { file: 'charts.js', type: 'text/javascript; charset=utf-8' },
  '/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
};

/**
 * The dashboard's files (plain HTML, two script modules, one stylesheet: nothing to build and
 * nothing fetched from elsewhere, so it works on a closed network). They sit next to
 * this module in a checkout; a compiled package finds them under src/ when its build
 * did not copy them beside the compiled code.
 */
export function dashboardDir(): string {
  const candidates = [
    new URL('./dashboard/', import.meta.url),
    new URL('../../../src/supervisor/control/dashboard/', import.meta.url),
  ];
  for (const candidate of candidates) {
    const dir = fileURLToPath(candidate);
    if (existsSync(`${dir}index.html`)) return dir;
  }
  return fileURLToPath(candidates[0] as URL);
}

/** Serves the dashboard's files, read once on first use. */
export class DashboardFiles {
  readonly #dir: string;
  readonly #cache = new Map<string, StaticFile>();

  constructor(dir: string = dashboardDir()) {
    this.#dir = dir;
  }

  /** Whether a path names one of the dashboard's files. */
  has(pathname: string): boolean {
    return Object.hasOwn(kFiles, pathname);
  }

  /** The file for a path; throws when it is missing from the installation. */
  get(pathname: string): StaticFile {
    let cached = this.#cache.get(pathname);
    if (cached === undefined) {
      const entry = kFiles[pathname];
      if (entry === undefined) throw new Error(`not a dashboard file: ${pathname}`);
      cached = { body: readFileSync(`${this.#dir}${entry.file}`), type: entry.type };
      this.#cache.set(pathname, cached);
    }
    return cached;
  }
}
