// Process entry in a source checkout: load the TypeScript entry through tsx. Installed
// packages fork the compiled dist/supervisor/process/process-entry.js instead.
import { tsImport } from 'tsx/esm/api';

await tsImport('./process-entry.ts', import.meta.url);
