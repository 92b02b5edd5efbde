// Runs a TypeScript entry point in Node: Vite bundles it for Node first (Node 20 cannot run .ts).
//   node scripts/run-ts.mjs scripts/sample-grid.ts [args…]
import { mkdirSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'vite';

const [entry, ...rest] = process.argv.slice(2);
if (!entry) throw new Error('usage: node scripts/run-ts.mjs <entry.ts> [args…]');
const name = basename(entry).replace(/\.ts$/, '');
const out = resolve('node_modules/.cache/dreamcache-scripts', name);
mkdirSync(out, { recursive: true });
await build({
  configFile: false,
  logLevel: 'warn',
  publicDir: false,
  build: {
    ssr: resolve(entry),
    outDir: out,
    emptyOutDir: true,
    target: 'node20',
    rollupOptions: { output: { format: 'es', entryFileNames: `${name}.mjs` } },
  },
});
process.argv = [process.argv[0], entry, ...rest];
await import(pathToFileURL(resolve(out, `${name}.mjs`)).href);
