// The CPU benchmark body, environment-agnostic: the same code runs in Node (wasm, 1 thread)
// and in a cross-origin-isolated Chromium page (wasm, 1 or 2 threads).
import { chooseBackend, detectCapabilities } from '../src/runtime/capabilities';
import { createEngine } from '../src/runtime/engine';
import type { RgbaImage } from '../src/runtime/engine-types';
import { createRgba } from '../src/runtime/image';
import { readManifest, readVerifiedFile } from '../src/runtime/pack';
import { PackTokenizer } from '../src/runtime/tokenizer';
import { createPackSource } from '../src/runtime/pack-source';
import { gaussianNoise } from '../src/runtime/rng';
import { encoderRowFeed, runFloat, SessionPool, takesEncoderRow, tensor } from '../src/runtime/sessions';
import { ownEncoderRows, pickRows, shareEncoderRows, type EncoderRows } from '../src/runtime/encoder-rows';

export interface BenchOptions {
  packUrl: string;
  threads: number;
  unetRuns?: number;
  cacheRuns?: number;
  steps?: number;
  log?: (line: string) => void;
}

export interface BenchResult {
  environment: string;
  backend: string;
  pack: string;
  imageSize: number;
  unetBatch3Ms: { median: number; mean: number; min: number; runs: number };
  /** The DreamCache step's batch-3 call as the app makes it: e_u and e_i share the encoder
   * (`encoder_row` [0, 0, 1], encoder at batch 2); absent when the pack's graph cannot. */
  sharedStepMs?: { median: number; mean: number; min: number; runs: number };
  cacheBuildMs: { median: number; runs: number };
  generation: { steps: number; totalMs: number; perStepMs: number; scheduler: string; guidance: string };
  /** The same generation with every row through the whole U-Net (LoadOptions.shareEncoder false). */
  generationUnshared?: { totalMs: number; perStepMs: number };
  /** Plain text-to-image (no subject): classifier-free guidance, one batch-2 U-Net call per step. */
  textToImage: { steps: number; totalMs: number };
  loadMs: number;
}

function stats(xs: number[]) {
  const s = [...xs].sort((a, b) => a - b);
  const median = s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  return { median, mean: xs.reduce((a, b) => a + b, 0) / xs.length, min: s[0], runs: xs.length };
}

function referenceImage(size: number): RgbaImage {
  const img = createRgba(size, size, [255, 255, 255, 255]);
  const c = size / 2;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) if ((x - c) ** 2 + (y - c) ** 2 < (size / 3) ** 2) img.data.set([180, 90, 40, 255], (y * size + x) * 4);
  }
  return img;
}

export async function runBench(o: BenchOptions): Promise<BenchResult> {
  const log = o.log ?? (() => undefined);
  const unetRuns = o.unetRuns ?? 20;
  const cacheRuns = o.cacheRuns ?? 3;
  const steps = o.steps ?? 50;
  const engine = createEngine();
  const t0 = performance.now();
  const info = await engine.load({ packUrl: o.packUrl, backend: 'wasm', numThreads: o.threads });
  const m = info.manifest;
  log(`pack ${m.name} ${m.version}, backend ${info.backend.label}`);

  // Cache build: VAE encode + one U-Net pass with feature outputs (sessions warm after the first).
  const S = m.image.size;
  const ref = referenceImage(S);
  const cache = await engine.buildCache([ref], 1);
  // first use: manifest, tokenizer, verified reads, text encoder + VAE encoder + U-Net sessions
  const loadMs = performance.now() - t0;
  const cacheTimes: number[] = [];
  for (let i = 0; i < cacheRuns; i++) {
    const t = performance.now();
    await engine.buildCache([ref], 1 + i);
    cacheTimes.push(performance.now() - t);
  }
  log(`cache build: median ${stats(cacheTimes).median.toFixed(1)} ms`);

  // One U-Net call at batch 3 (the combined-guidance batch) with realistic inputs: a real cache,
  // real text embeddings ["", "", prompt], noise latents, timesteps along a 50-step schedule.
  const source = createPackSource(o.packUrl);
  const manifest = await readManifest(source);
  const pool = new SessionPool(source, manifest, chooseBackend(await detectCapabilities(), manifest, 'wasm', o.threads));
  const unet = await pool.get('unet');
  const textEncoder = await pool.get('text_encoder');
  const C = m.latent.channels;
  const hw = S / m.latent.downsample;
  const L = m.tokenizer.maxLength;
  const D = m.textEncoder.hiddenSize;
  const B = 3;
  const tokenizer = PackTokenizer.fromJSON(JSON.parse(new TextDecoder().decode(await readVerifiedFile(source, manifest, manifest.tokenizer.file))), manifest.tokenizer);
  const ids = tokenizer.encodeBatch(['', '', 'a photo of the subject on a beach']);
  const { last_hidden_state: text } = await runFloat(textEncoder, 'text_encoder', { input_ids: tensor(ids, [B, L]) }, ['last_hidden_state']);
  const n = C * hw * hw;
  const hasEncoderRow = takesEncoderRow(unet);
  const usePrompt = [false, false, true]; // text rows ['', '', prompt]
  // the same rows the engine feeds: every row whole, or e_u and e_i sharing the encoder
  const feeds = (i: number, rows: EncoderRows) => {
    const S = rows.source.length;
    const latent = gaussianNoise(100 + i, n);
    const sample = new Float32Array(S * n);
    for (let r = 0; r < S; r++) sample.set(latent, r * n);
    return {
      sample: tensor(sample, [S, C, hw, hw]),
      timestep: tensor(new Float32Array(S).fill(981 - 20 * (i % 50)), [S]),
      encoder_hidden_states: tensor(pickRows(text.data, B, rows.source), [S, L, D]),
      adapter_gate: tensor(Float32Array.of(0, 1, 1), [B]),
      ...encoderRowFeed(unet, rows.encoderRow),
      ...Object.fromEntries(cache.layers.map((l) => [`cache_${l.name}`, tensor(l.data, [...l.shape])])),
    };
  };
  const time = async (rows: EncoderRows) => {
    for (let i = 0; i < 3; i++) await runFloat(unet, 'unet', feeds(i, rows), ['noise_pred']);
    const times: number[] = [];
    for (let i = 0; i < unetRuns; i++) {
      const f = feeds(i, rows);
      const t = performance.now();
      await runFloat(unet, 'unet', f, ['noise_pred']);
      times.push(performance.now() - t);
    }
    return stats(times);
  };
  const unetB3 = await time(ownEncoderRows(B));
  log(`unet b=3: median ${unetB3.median.toFixed(1)} ms`);
  const sharedStep = hasEncoderRow ? await time(shareEncoderRows(usePrompt)) : undefined;
  if (sharedStep) log(`unet b=3, encoder shared by e_u and e_i: median ${sharedStep.median.toFixed(1)} ms`);
  await pool.dispose();

  // A whole personalized generation: DDIM, 3-branch guidance, final decode.
  const request = { prompt: 'a photo of the subject on a beach', steps, seed: 3, textScale: 7.5, imageScale: 1, scheduler: 'ddim' as const, guidance: 'combined' as const, cache, previewEvery: 0 };
  await engine.generate({ ...request, steps: 2 });
  const tg = performance.now();
  await engine.generate(request);
  const totalMs = performance.now() - tg;
  log(`generation ${steps} steps: ${totalMs.toFixed(0)} ms`);
  const tt = performance.now();
  await engine.generate({ ...request, cache: null });
  const t2iMs = performance.now() - tt;
  log(`text-to-image ${steps} steps (batch 2): ${t2iMs.toFixed(0)} ms`);
  await engine.dispose();

  let generationUnshared: BenchResult['generationUnshared'];
  if (hasEncoderRow) {
    const unshared = createEngine();
    await unshared.load({ packUrl: o.packUrl, backend: 'wasm', numThreads: o.threads, shareEncoder: false });
    await unshared.generate({ ...request, steps: 2 });
    const tu = performance.now();
    await unshared.generate(request);
    const ms = performance.now() - tu;
    await unshared.dispose();
    generationUnshared = { totalMs: ms, perStepMs: ms / steps };
    log(`generation ${steps} steps, every row through the encoder: ${ms.toFixed(0)} ms`);
  }

  return {
    environment: '',
    backend: info.backend.label,
    pack: `${m.name} ${m.version}`,
    imageSize: S,
    unetBatch3Ms: unetB3,
    sharedStepMs: sharedStep,
    cacheBuildMs: { median: stats(cacheTimes).median, runs: cacheRuns },
    generation: { steps, totalMs, perStepMs: totalMs / steps, scheduler: 'ddim', guidance: 'combined (batch 3)' },
    generationUnshared,
    textToImage: { steps, totalMs: t2iMs },
    loadMs,
  };
}
