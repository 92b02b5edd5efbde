// Personalized sample grid through the app's own runtime (onnxruntime-web wasm in Node):
//   /usr/bin/python3 training/scripts/heldout_refs.py --out /tmp/refs --n 8 [--prompts beach,snow]
//   node scripts/run-ts.mjs scripts/personalize-grid.ts --pack public/models/tiny-emoji --refs /tmp/refs \
//     --out docs/training-samples/personalize-tiny-emoji-v0.4.0.png [--steps 50] [--seed 1]
// One row per subject: reference (what the model sees) | per prompt: text-only (the subject's label in
// the prompt, no cache) | DreamCache (the class noun in the prompt, cache from the reference, the pack's
// guidance scales). Both tiles of a pair share the initial noise, so the cache is the only difference.
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createEngine } from '../src/runtime/engine';
import { arg } from './args';
import { encodePng } from './png';

/** One subject of heldout_refs.py's refs.json; its prompts are the benchmark's own texts. */
interface Ref {
  id: string;
  label: string;
  noun: string;
  file: string;
  prompts: { key: string; textOnly: string; dreamcache: string }[];
}

const GUTTER = 4;
const GUTTER_GREY = 210;

async function main(): Promise<void> {
  const refsDir = resolve(arg('refs'));
  const refs: Ref[] = JSON.parse(readFileSync(join(refsDir, 'refs.json'), 'utf8'));
  const scenes = refs[0]?.prompts.map((p) => p.key) ?? [];
  if (scenes.length === 0) throw new Error(`${refsDir}/refs.json lists no subjects or no prompts`);
  const steps = Number(arg('steps', '50'));
  const seed = Number(arg('seed', '1'));
  const out = arg('out');

  const engine = createEngine();
  const info = await engine.load({ packUrl: resolve(arg('pack')), backend: 'wasm', numThreads: 1 });
  const m = info.manifest;
  const S = m.image.size;
  const cols = 1 + 2 * scenes.length;
  const W = cols * S + (cols - 1) * GUTTER;
  const H = refs.length * S + (refs.length - 1) * GUTTER;
  const grid = new Uint8ClampedArray(W * H * 4);
  for (let i = 0; i < grid.length; i += 4) grid.set([GUTTER_GREY, GUTTER_GREY, GUTTER_GREY, 255], i);
  const put = (img: Uint8ClampedArray, row: number, col: number): void => {
    const ox = col * (S + GUTTER);
    const oy = row * (S + GUTTER);
    for (let y = 0; y < S; y++) grid.set(img.subarray(y * S * 4, (y + 1) * S * 4), ((oy + y) * W + ox) * 4);
  };

  console.log(`pack ${m.name} ${m.version}, ${steps} steps, textScale ${m.guidance.textScale}, imageScale ${m.guidance.imageScale}${m.guidance.imageScaleEnd !== undefined ? ` → ${m.guidance.imageScaleEnd}` : ''}`);
  console.log(`columns: reference | ${scenes.map((s) => `${s}: text-only, DreamCache`).join(' | ')}`);
  const t0 = performance.now();
  for (const [r, ref] of refs.entries()) {
    const bytes = readFileSync(join(refsDir, ref.file));
    if (bytes.length !== S * S * 4) throw new Error(`${ref.file}: ${bytes.length} bytes, expected ${S * S * 4}`);
    const refImg = { width: S, height: S, data: new Uint8ClampedArray(bytes) };
    put(refImg.data, r, 0);
    const tRow = performance.now();
    const cache = await engine.buildCache([refImg], seed);
    for (const [p, prompt] of ref.prompts.entries()) {
      const tileSeed = seed + r * scenes.length + p;
      const base = { steps, seed: tileSeed, scheduler: 'ddim', guidance: 'combined', previewEvery: 0 } as const;
      const textOnly = await engine.generate({
        ...base, prompt: prompt.textOnly, textScale: m.guidance.textScale, imageScale: 0, cache: null,
      });
      put(textOnly.data, r, 1 + 2 * p);
      const personal = await engine.generate({
        ...base, prompt: prompt.dreamcache, textScale: m.guidance.textScale,
        imageScale: m.guidance.imageScale, imageScaleEnd: m.guidance.imageScaleEnd, cache,
      });
      put(personal.data, r, 2 + 2 * p);
    }
    console.log(`row ${r + 1}/${refs.length}: ${ref.label} (${ref.id}, noun "${ref.noun}") ${((performance.now() - tRow) / 1000).toFixed(1)} s`);
  }
  writeFileSync(out, encodePng(W, H, grid));
  const total = (performance.now() - t0) / 1000;
  console.log(`rows: ${refs.map((r) => r.label).join('; ')}`);
  console.log(`wrote ${out} (${refs.length} subjects × ${scenes.length} prompts × 2, ${total.toFixed(0)} s total)`);
  await engine.dispose();
}

// onnxruntime-web keeps Node alive for a while after its wasm loaded: exit explicitly.
main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
