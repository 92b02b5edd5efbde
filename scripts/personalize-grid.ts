// Personalized sample grid through the app's own runtime (onnxruntime-web wasm in Node):
//   /usr/bin/python3 training/scripts/heldout_refs.py --out /tmp/refs --n 8
//   node scripts/run-ts.mjs scripts/personalize-grid.ts --pack public/models/tiny-emoji --refs /tmp/refs \
//     --out docs/training-samples/personalize-tiny-emoji-v0.2.0.png [--steps 50] [--seed 1] [--prompts beach,snow]
// One row per subject: reference (what the model sees) | per prompt: text-only (the subject's label in
// the prompt, no cache) | DreamCache (the class noun in the prompt, cache from the reference, the pack's
// guidance scales). Both tiles of a pair share the initial noise, so the cache is the only difference.
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createEngine } from '../src/runtime/engine';
import { encodePng } from './png';

interface Ref { id: string; label: string; noun: string; file: string }

// The benchmark's context scenes (training/dreamcache/data/captions.py SCENES phrases).
const SCENE_PHRASES: Record<string, string> = {
  beach: 'on a beach', snow: 'in the snow', forest: 'in a forest', desert: 'in the desert',
  night_sky: 'under a starry night sky', outer_space: 'in outer space', underwater: 'underwater',
  city_street: 'on a city street', wooden_table: 'on a wooden table', grass_field: 'in a grass field',
  mountain_lake: 'by a mountain lake', brick_wall: 'in front of a brick wall', flower_field: 'in a field of flowers',
  autumn_leaves: 'among autumn leaves', cloudy_sky: 'in the sky among clouds', red_backdrop: 'on a red background',
  blue_backdrop: 'on a blue background',
};

class UnknownSceneError extends Error {
  constructor(key: string) {
    super(`unknown scene "${key}"; known: ${Object.keys(SCENE_PHRASES).join(', ')}`);
    this.name = 'UnknownSceneError';
  }
}

/** make_caption(label, scene, None, None, 0): "a photo of {a/an} {label} {scene phrase}". */
function benchPromptText(label: string, sceneKey: string): string {
  const phrase = SCENE_PHRASES[sceneKey];
  if (phrase === undefined) throw new UnknownSceneError(sceneKey);
  const art = 'aeiou'.includes(label.slice(0, 1).toLowerCase()) ? 'an' : 'a';
  return `a photo of ${art} ${label} ${phrase}`;
}

function arg(name: string, fallback?: string): string {
  const i = process.argv.indexOf(`--${name}`);
  if (i >= 0 && process.argv[i + 1]) return process.argv[i + 1];
  if (fallback === undefined) throw new Error(`--${name} is required`);
  return fallback;
}

const GUTTER = 4;
const GUTTER_GREY = 210;

async function main(): Promise<void> {
  const refsDir = resolve(arg('refs'));
  const refs: Ref[] = JSON.parse(readFileSync(join(refsDir, 'refs.json'), 'utf8'));
  const scenes = arg('prompts', 'beach,snow').split(',').map((s) => s.trim()).filter(Boolean);
  scenes.forEach((s) => benchPromptText('x', s)); // fail before loading the model
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

  console.log(`pack ${m.name} ${m.version}, ${steps} steps, textScale ${m.guidance.textScale}, imageScale ${m.guidance.imageScale}`);
  console.log(`columns: reference | ${scenes.map((s) => `${s}: text-only, DreamCache`).join(' | ')}`);
  const t0 = performance.now();
  for (const [r, ref] of refs.entries()) {
    const bytes = readFileSync(join(refsDir, ref.file));
    if (bytes.length !== S * S * 4) throw new Error(`${ref.file}: ${bytes.length} bytes, expected ${S * S * 4}`);
    const refImg = { width: S, height: S, data: new Uint8ClampedArray(bytes) };
    put(refImg.data, r, 0);
    const tRow = performance.now();
    const cache = await engine.buildCache([refImg], seed);
    for (const [p, scene] of scenes.entries()) {
      const tileSeed = seed + r * scenes.length + p;
      const base = { steps, seed: tileSeed, scheduler: 'ddim', guidance: 'combined', previewEvery: 0 } as const;
      const textOnly = await engine.generate({
        ...base, prompt: benchPromptText(ref.label, scene), textScale: m.guidance.textScale, imageScale: 0, cache: null,
      });
      put(textOnly.data, r, 1 + 2 * p);
      const personal = await engine.generate({
        ...base, prompt: benchPromptText(ref.noun, scene), textScale: m.guidance.textScale,
        imageScale: m.guidance.imageScale, cache,
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
