// Copies the files tsc does not emit (the dashboard's HTML, JS and CSS) into dist/, so an
// installed package serves the same dashboard as a checkout.
import { cpSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
cpSync(`${root}src/supervisor/control/dashboard`, `${root}dist/supervisor/control/dashboard`, {
  recursive: true,
});
