// Runtime side of the PyTorch ↔ app-runtime parity check (training/dreamcache/eval/parity.py):
//   node scripts/run-ts.mjs scripts/parity.ts --pack public/models/tiny-emoji --dir DIR
// DIR/cases.json (written by parity.py) lists {id, prompt, seed, cacheSeed, steps, textScale,
// imageScale, imageScaleEnd?, reference} with reference = a raw S×S RGBA file or null (text-only). For every case
// this runs the app's engine (onnxruntime-web wasm, the same code the browser runs) and writes,
// raw little-endian: ts_<id>.rgba (the image), noise_<id>.f32 (x_T from src/runtime/rng.ts),
// cachenoise_<id>.f32 (the cache pass's noise) and cache_<id>_<layer>.f32 (the subject cache),
// so the Python side starts from the same numbers and compares images and caches.
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createEngine } from '../src/runtime/engine';
import { arg } from './args';
import { SeededRandom } from '../src/runtime/rng';

interface ParityCase {
  id: string;
  prompt: string;
  seed: number;
  cacheSeed: number;
  steps: number;
  textScale: number;
  imageScale: number;
  /** sI at the last step (a ramp), absent for a constant sI. */
  imageScaleEnd?: number;
  reference: string | null;
}

function writeF32(path: string, data: Float32Array): void {
  writeFileSync(path, Buffer.from(data.buffer, data.byteOffset, data.byteLength));
}

async function main(): Promise<void> {
  const dir = resolve(arg('dir'));
  const cases: ParityCase[] = JSON.parse(readFileSync(join(dir, 'cases.json'), 'utf8'));
  const engine = createEngine();
  const info = await engine.load({ packUrl: resolve(arg('pack')), backend: 'wasm', numThreads: 1 });
  const m = info.manifest;
  const S = m.image.size;
  const n = m.latent.channels * (S / m.latent.downsample) ** 2;
  const timings: Record<string, number> = {};
  for (const c of cases) {
    const t0 = performance.now();
    let cache = null;
    if (c.reference) {
      const bytes = readFileSync(join(dir, c.reference));
      if (bytes.length !== S * S * 4) throw new Error(`${c.reference}: ${bytes.length} bytes, expected ${S * S * 4}`);
      cache = await engine.buildCache([{ width: S, height: S, data: new Uint8ClampedArray(bytes) }], c.cacheSeed);
      for (const l of cache.layers) writeF32(join(dir, `cache_${c.id}_${l.name}.f32`), l.data);
      // buildCache draws one Gaussian vector per cached view (the reference, then cache.selfViews) from
      // SeededRandom(cacheSeed), in turn
      const rng = new SeededRandom(c.cacheSeed);
      const noise = new Float32Array(cache.references * n);
      for (let k = 0; k < cache.references; k++) noise.set(rng.gaussian(n), k * n);
      writeF32(join(dir, `cachenoise_${c.id}.f32`), noise);
    }
    // generate() starts from SeededRandom(seed).gaussian(C·h·w)
    writeF32(join(dir, `noise_${c.id}.f32`), new SeededRandom(c.seed).gaussian(n));
    const img = await engine.generate({
      prompt: c.prompt, steps: c.steps, seed: c.seed, textScale: c.textScale, imageScale: c.imageScale,
      imageScaleEnd: c.imageScaleEnd, scheduler: 'ddim', guidance: 'combined', cache, previewEvery: 0,
    });
    writeFileSync(join(dir, `ts_${c.id}.rgba`), Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength));
    timings[c.id] = Math.round(performance.now() - t0);
    console.log(`${c.id}: ${c.steps} steps, ${cache ? 'DreamCache' : 'text-only'}, ${timings[c.id]} ms — ${c.prompt}`);
  }
  writeFileSync(join(dir, 'ts_done.json'), JSON.stringify({ pack: m.name, fingerprint: info.fingerprint, backend: info.backend, timings }, null, 1));
  await engine.dispose();
}

// onnxruntime-web keeps Node alive for a while after its wasm loaded: exit explicitly.
main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
