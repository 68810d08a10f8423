// Thread entry in a source checkout: worker threads do not inherit the main thread's
// tsx loader, so load the TypeScript entry through tsx here. Installed packages use the
// compiled dist/supervisor/thread/direct-entry.js instead.
import { tsImport } from 'tsx/esm/api';

await tsImport('./direct-entry.ts', import.meta.url);
