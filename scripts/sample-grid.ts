// Text-to-image sample grid through the app's own runtime (onnxruntime-web wasm in Node):
//   node scripts/run-ts.mjs scripts/sample-grid.ts --pack public/models/tiny-emoji \
//     --prompts training/data/grid_prompts.json --out docs/training-samples/t2i.png [--steps 50] [--cols 8]
// The prompts file is a JSON list of {prompt, group}; each tile is one 50-step DDIM image.
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createEngine } from '../src/runtime/engine';
import { arg } from './args';
import { encodePng } from './png';

async function main(): Promise<void> {
  const pack = resolve(arg('pack'));
  const prompts: { prompt: string; group: string }[] = JSON.parse(readFileSync(arg('prompts'), 'utf8'));
  const steps = Number(arg('steps', '50'));
  const cols = Number(arg('cols', '8'));
  const seed = Number(arg('seed', '1'));
  const engine = createEngine();
  const info = await engine.load({ packUrl: pack, backend: 'wasm', numThreads: 1 });
  const S = info.manifest.image.size;
  const rows = Math.ceil(prompts.length / cols);
  const grid = new Uint8ClampedArray(cols * S * rows * S * 4).fill(255);
  const t0 = performance.now();
  for (const [i, p] of prompts.entries()) {
    const img = await engine.generate({
      prompt: p.prompt, steps, seed: seed + i, textScale: info.manifest.guidance.textScale, imageScale: 0,
      scheduler: 'ddim', guidance: 'combined', cache: null, previewEvery: 0,
    });
    const ox = (i % cols) * S;
    const oy = Math.floor(i / cols) * S;
    for (let y = 0; y < S; y++) grid.set(img.data.subarray(y * S * 4, (y + 1) * S * 4), ((oy + y) * cols * S + ox) * 4);
    console.log(`${i + 1}/${prompts.length} [${p.group}] ${p.prompt}`);
  }
  writeFileSync(arg('out'), encodePng(cols * S, rows * S, grid));
  console.log(`wrote ${arg('out')} (${prompts.length} images, ${steps} steps, ${((performance.now() - t0) / 1000).toFixed(0)} s)`);
  await engine.dispose();
}

main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
