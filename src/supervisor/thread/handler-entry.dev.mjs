// Thread entry in a source checkout: worker threads do not inherit the main thread's
// tsx loader, so load the TypeScript entry through tsx here. Installed packages use the
// compiled dist/supervisor/thread/handler-entry.js instead.
import { tsImport } from 'tsx/esm/api';

const entry = await tsImport('./handler-entry.ts', import.meta.url);
export default entry.default;
