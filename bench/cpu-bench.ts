// `npm run bench:cpu [-- --pack <folder>] [--steps 50] [--threads 1,2] [--no-browser] [--no-write]`
// Node (wasm, 1 thread) and headless Chromium (wasm, 1 and 2 threads, cross-origin isolated).
// Prints a table and rewrites the CPU section of docs/benchmarks.md.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { resolve } from 'node:path';
import { runBench, type BenchResult } from './bench-core';
import { runInChromium } from './browser-runner';

interface Args {
  pack: string;
  steps: number;
  threads: number[];
  browser: boolean;
  write: boolean;
  out: string;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { pack: 'public/models/dev-tiny', steps: 50, threads: [1, 2], browser: true, write: true, out: 'docs/benchmarks.md' };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = () => argv[++i];
    if (k === '--pack') a.pack = v();
    else if (k === '--steps') a.steps = Number(v());
    else if (k === '--threads') a.threads = v().split(',').map(Number);
    else if (k === '--no-browser') a.browser = false;
    else if (k === '--no-write') a.write = false;
    else if (k === '--out') a.out = v();
    else if (!k.startsWith('--')) a.pack = k;
    else throw new Error(`unknown argument ${k}`);
  }
  a.pack = resolve(a.pack);
  if (!existsSync(resolve(a.pack, 'manifest.json'))) throw new Error(`no manifest.json in ${a.pack}`);
  return a;
}

function table(rows: BenchResult[]): string {
  const f = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
  const lines = [
    '| where | backend | U-Net b=3 median (mean, min) ms | b=3, shared encoder ms | cache build ms | personalized generation ms (steps, per step) | same, no sharing ms | text-to-image b=2 ms | load ms |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const shared = r.sharedStepMs ? `${f(r.sharedStepMs.median)} (${f(r.sharedStepMs.mean)}, ${f(r.sharedStepMs.min)})` : '–';
    const unshared = r.generationUnshared ? `${f(r.generationUnshared.totalMs)} (${f(r.generationUnshared.perStepMs)})` : '–';
    lines.push(
      `| ${r.environment} | ${r.backend} | ${f(r.unetBatch3Ms.median)} (${f(r.unetBatch3Ms.mean)}, ${f(r.unetBatch3Ms.min)}) | ${shared} | ${f(r.cacheBuildMs.median)} | ${f(r.generation.totalMs)} (${r.generation.steps}, ${f(r.generation.perStepMs)}) | ${unshared} | ${f(r.textToImage.totalMs)} | ${f(r.loadMs)} |`,
    );
  }
  return lines.join('\n');
}

function writeDoc(path: string, section: string, key: string): void {
  // One marked section per pack, so re-running on one pack leaves the others' numbers alone.
  const start = `<!-- cpu-bench:${key}:start -->`;
  const end = `<!-- cpu-bench:${key}:end -->`;
  const block = `${start}\n${section}\n${end}`;
  let doc = existsSync(path) ? readFileSync(path, 'utf8') : '# Benchmarks\n\n';
  if (doc.includes(start) && doc.includes(end)) doc = doc.slice(0, doc.indexOf(start)) + block + doc.slice(doc.indexOf(end) + end.length);
  else doc = `${doc.trimEnd()}\n\n${block}\n`;
  writeFileSync(path, doc);
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const loadBefore = loadavg()[0];
  const rows: BenchResult[] = [];
  console.log(`pack: ${args.pack}`);
  console.log('Node (onnxruntime-web wasm, 1 thread)…');
  const node = await runBench({ packUrl: args.pack, threads: 1, steps: args.steps, log: (l) => console.log(`  ${l}`) });
  rows.push({ ...node, environment: `Node ${process.version}` });
  if (args.browser) {
    for (const threads of args.threads) {
      console.log(`Chromium (wasm, ${threads} thread${threads > 1 ? 's' : ''})…`);
      const r = await runInChromium({ packDir: args.pack, threads, steps: args.steps, log: (l) => console.log(`  ${l}`) });
      rows.push({ ...r, environment: 'Chromium headless' });
    }
  }
  const t = table(rows);
  console.log(`\n${t}\n`);
  if (args.write) {
    const cpu = cpus()[0]?.model ?? 'unknown CPU';
    const section = [
      `## CPU (wasm): ${rows[0].pack}`,
      '',
      `Command: \`npm run bench:cpu -- --pack ${args.pack.replace(process.cwd() + '/', '')} --steps ${args.steps}\``,
      `Machine: 2-core CI-class x86-64 (${cpus().length} logical CPUs, ${cpu}), no GPU. Date: ${new Date().toISOString().slice(0, 10)}.`,
      `1-min load average before/after the run: ${loadBefore.toFixed(1)} / ${loadavg()[0].toFixed(1)} (other jobs on the machine make wasm timings noisy).`,
      `Pack: ${rows[0].pack}, ${rows[0].imageSize}×${rows[0].imageSize} px.`,
      '',
      t,
      '',
      '- U-Net b=3: one `unet.onnx` call with the three guidance rows (e_u, e_i, e_c), every row through the whole U-Net: a real cache, real text embeddings, a noise latent; 3 warm-up calls, then 20 timed.',
      '- b=3, shared encoder: the same call as the app makes it when the graph takes `encoder_row` (docs/model-pack.md): e_u and e_i differ only in adapter_gate, so the encoder runs at batch 2 (`encoder_row` [0, 0, 1]); "–" for packs exported before it.',
      '- cache build: VAE encode + one U-Net pass returning the cached features (warm sessions), median of 3.',
      `- generation: ${args.steps} DDIM steps with 3-branch guidance (one batch-3 U-Net call per step, encoder shared where the graph allows) + VAE decode, warm sessions; "same, no sharing": \`shareEncoder: false\` (total, per step).`,
      `- text-to-image b=2: ${args.steps} DDIM steps with no subject (classifier-free guidance, one batch-2 U-Net call per step) + VAE decode.`,
      '- load: `load()` plus the first `buildCache()` (verified reads, text encoder + VAE encoder + U-Net sessions, one cache pass).',
      '- Node runs onnxruntime-web\'s wasm backend single-threaded (threads > 1 fail in Node). The Chromium rows run the same',
      '  code in a cross-origin-isolated page (COOP/COEP served locally), driven by playwright-core with /usr/bin/chromium.',
    ].join('\n');
    writeDoc(resolve(args.out), section, rows[0].pack.split(' ')[0]);
    console.log(`wrote ${args.out}`);
  }
}

main().then(
  // ORT's wasm keeps the Node process alive for a while after use: leave at once.
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
