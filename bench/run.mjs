// Builds the bench (TypeScript) with Vite, then runs it in Node: Node 20 cannot run .ts itself.
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'vite';

const out = resolve('node_modules/.cache/dreamcache-bench');
mkdirSync(out, { recursive: true });
const quiet = { configFile: false, logLevel: 'warn', publicDir: false };

await build({
  ...quiet,
  build: {
    ssr: resolve('bench/cpu-bench.ts'),
    outDir: resolve(out, 'node'),
    emptyOutDir: true,
    target: 'node20',
    rollupOptions: { output: { format: 'es', entryFileNames: 'cpu-bench.mjs' } },
  },
});
await build({
  ...quiet,
  build: {
    outDir: resolve(out, 'browser'),
    emptyOutDir: true,
    target: 'es2022',
    minify: false,
    modulePreload: false,
    rollupOptions: {
      input: resolve('bench/browser-entry.ts'),
      external: ['onnxruntime-web'],
      output: { format: 'es', entryFileNames: 'bench.js' },
    },
  },
});
process.env.BENCH_BROWSER_BUNDLE = resolve(out, 'browser');
await import(pathToFileURL(resolve(out, 'node/cpu-bench.mjs')).href);
