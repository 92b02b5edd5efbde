// Node integration tests of the real engine on the committed development pack (wasm, 1 thread).
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeDreamcache, encodeDreamcache } from './dreamcache-file';
import { createEngine } from './engine';
import type { Engine, GenerateRequest, LoadedInfo, ProgressEvent, RgbaImage, SubjectCache } from './engine-types';
import { CacheFileError, CacheMismatchError, CancelledError, InputError, NotLoadedError } from './errors';
import { createRgba, mirrorRgba } from './image';

const PACK = resolve(__dirname, '../../public/models/dev-tiny');

/** A red disc on white: a deterministic "subject on white" reference. */
function reference(size = 96, color: [number, number, number] = [200, 40, 40]): RgbaImage {
  const img = createRgba(size, size, [255, 255, 255, 255]);
  const c = size / 2;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      if ((x - c) ** 2 + (y - c) ** 2 < (size / 3) ** 2) img.data.set([...color, 255], (y * size + x) * 4);
    }
  }
  return img;
}

function request(over: Partial<GenerateRequest> = {}): GenerateRequest {
  return {
    prompt: 'a photo of a dog on the beach',
    steps: 4,
    seed: 7,
    textScale: 7.5,
    imageScale: 1,
    scheduler: 'ddim',
    guidance: 'combined',
    cache: null,
    previewEvery: 0,
    ...over,
  };
}

const same = (a: RgbaImage, b: RgbaImage) => a.width === b.width && a.height === b.height && Buffer.compare(Buffer.from(a.data), Buffer.from(b.data)) === 0;

describe('engine on the dev pack (wasm, Node)', () => {
  let engine: Engine;
  let info: LoadedInfo;
  let cache: SubjectCache;

  beforeAll(async () => {
    engine = createEngine();
    const events: ProgressEvent[] = [];
    info = await engine.load({ packUrl: PACK, backend: 'auto' }, (e) => events.push(e));
    expect(events.at(-1)?.stage).toBe('load');
    cache = await engine.buildCache([reference()], 1);
  });
  afterAll(async () => {
    await engine?.dispose();
  });

  it('loads with the wasm backend and the contract fingerprint', () => {
    expect(info.backend).toEqual({ kind: 'wasm', threads: 1, label: 'wasm ×1 thread' });
    expect(info.manifest.name).toBe('dev-tiny');
    expect(info.fingerprint).toMatch(/^[0-9a-f]{64}$/);
  });

  it('builds caches with the manifest layer shapes, half-representable values', () => {
    expect(cache.packName).toBe('dev-tiny');
    expect(cache.fingerprint).toBe(info.fingerprint);
    expect(cache.references).toBe(1);
    expect(cache.layers.map((l) => l.name)).toEqual(info.manifest.cache.layers.map((l) => l.name));
    info.manifest.cache.layers.forEach((l, i) => {
      expect(cache.layers[i].shape).toEqual([1, l.height * l.width, l.channels]);
      expect(cache.layers[i].data.length).toBe(l.height * l.width * l.channels);
      expect(cache.layers[i].data.every(Number.isFinite)).toBe(true);
    });
    expect(cache.layers[0].data.some((v) => v !== 0)).toBe(true);
  });

  it('buildCache is deterministic per seed and depends on image and seed', async () => {
    const again = await engine.buildCache([reference()], 1);
    again.layers.forEach((l, i) => expect(l.data).toEqual(cache.layers[i].data));
    const otherSeed = await engine.buildCache([reference()], 2);
    expect(otherSeed.layers[0].data).not.toEqual(cache.layers[0].data);
    const otherImage = await engine.buildCache([reference(96, [20, 60, 220])], 1);
    expect(otherImage.layers[0].data).not.toEqual(cache.layers[0].data);
  });

  it('concatenates K references along N', async () => {
    const two = await engine.buildCache([reference(), reference(64, [20, 60, 220])], 1);
    expect(two.references).toBe(2);
    info.manifest.cache.layers.forEach((l, i) => expect(two.layers[i].shape).toEqual([1, 2 * l.height * l.width, l.channels]));
    // the first reference uses the same noise draw as a single-reference build
    const n = cache.layers[0].data.length;
    expect(two.layers[0].data.subarray(0, n)).toEqual(cache.layers[0].data);
  });

  it('survives a .dreamcache round trip bit-exactly and generates identical pixels from it', async () => {
    const bytes = await encodeDreamcache({ cache, name: 'disc' });
    const decoded = await decodeDreamcache(bytes, { expectedFingerprint: info.fingerprint, expectedLayers: info.manifest.cache.layers });
    decoded.cache.layers.forEach((l, i) => expect(l.data).toEqual(cache.layers[i].data));
    const a = await engine.generate(request({ cache, steps: 3 }));
    const b = await engine.generate(request({ cache: decoded.cache, steps: 3 }));
    expect(same(a, b)).toBe(true);
  });

  it('generates deterministically per seed, differently across seeds', async () => {
    const a = await engine.generate(request({ cache }));
    expect(a.width).toBe(info.manifest.image.size);
    expect(a.height).toBe(info.manifest.image.size);
    expect(a.data.length).toBe(a.width * a.height * 4);
    const b = await engine.generate(request({ cache }));
    expect(same(a, b)).toBe(true);
    const c = await engine.generate(request({ cache, seed: 8 }));
    expect(same(a, c)).toBe(false);
  });

  it('an image scale ramp reaches the sampler; an end equal to the start is the constant sI', async () => {
    const constant = await engine.generate(request({ cache, imageScale: 3 }));
    expect(same(await engine.generate(request({ cache, imageScale: 3, imageScaleEnd: 3 })), constant)).toBe(true);
    expect(same(await engine.generate(request({ cache, imageScale: 3, imageScaleEnd: 0 })), constant)).toBe(false);
  });

  it('the cache changes the image (gate 1 rows attend to it)', async () => {
    const withCache = await engine.generate(request({ cache }));
    const plain = await engine.generate(request({ cache: null }));
    expect(same(withCache, plain)).toBe(false);
  });

  it('gate-0 rows are the base model whatever the cache holds (e_u of a 3-row batch = plain CFG e_u)', async () => {
    // With sT = sI = 0 the guided prediction is e_u alone: gate 0, empty prompt.
    const personalized = await engine.generate(request({ cache, textScale: 0, imageScale: 0, steps: 3 }));
    const plain = await engine.generate(request({ cache: null, textScale: 0, imageScale: 0, steps: 3 }));
    let maxDiff = 0;
    for (let i = 0; i < plain.data.length; i++) maxDiff = Math.max(maxDiff, Math.abs(plain.data[i] - personalized.data[i]));
    // batch 3 vs batch 2 may reorder float sums; a pixel level off by one is the most allowed
    expect(maxDiff).toBeLessThanOrEqual(1);
  });

  it('runs every scheduler and guidance mode, and the no-cache gate-0 path', async () => {
    for (const scheduler of ['ddim', 'dpmpp2m'] as const) {
      for (const guidance of ['combined', 'joint'] as const) {
        const img = await engine.generate(request({ cache, scheduler, guidance, steps: 3 }));
        expect(img.data.length).toBe(128 * 128 * 4);
      }
    }
    const plain = await engine.generate(request({ cache: null, steps: 3 }));
    expect(plain.data.some((v, i) => i % 4 !== 3 && v !== plain.data[0])).toBe(true);
  });

  it('reports progress every step with previews every previewEvery steps', async () => {
    const events: ProgressEvent[] = [];
    await engine.generate(request({ cache, steps: 5, previewEvery: 2 }), (e) => events.push(e));
    const gen = events.filter((e) => e.stage === 'generate' && e.step > 0);
    expect(gen.map((e) => e.step)).toEqual([1, 2, 3, 4, 5]);
    expect(gen.map((e) => Boolean(e.preview))).toEqual([false, true, false, true, false]);
    expect(gen[1].preview!.width).toBe(128);
  });

  it('cancel stops a generation within one step with CancelledError', async () => {
    const steps: number[] = [];
    let cancelledAt = -1;
    const p = engine.generate(request({ cache, steps: 50 }), (e) => {
      if (e.stage !== 'generate' || e.step === 0) return;
      steps.push(e.step);
      if (e.step === 3) {
        cancelledAt = e.step;
        engine.cancel();
      }
    });
    await expect(p).rejects.toBeInstanceOf(CancelledError);
    expect(cancelledAt).toBe(3);
    expect(Math.max(...steps)).toBeLessThanOrEqual(cancelledAt + 1);
    // cancel from outside the progress callback, while a U-Net call is in flight
    let seen = 0;
    const q = engine.generate(request({ cache, steps: 50 }), (e) => {
      if (e.stage === 'generate') seen = e.step;
    });
    await new Promise<void>((ok) => {
      const poll = setInterval(() => {
        if (seen >= 2) {
          clearInterval(poll);
          ok();
        }
      }, 1);
    });
    const at = seen;
    engine.cancel();
    await expect(q).rejects.toBeInstanceOf(CancelledError);
    expect(seen).toBeLessThanOrEqual(at + 1);
    // the engine keeps working after a cancel
    const img = await engine.generate(request({ cache, steps: 2 }));
    expect(img.width).toBe(128);
  });

  it('cancel stops generate and buildCache, not a queued segment', async () => {
    const g = engine.generate(request({ cache, steps: 50 }));
    const s = engine.segment(reference(40));
    engine.cancel();
    await expect(g).rejects.toBeInstanceOf(CancelledError);
    expect((await s).source).toBe('segmenter');
    const b = engine.buildCache([reference(), reference()], 1);
    engine.cancel();
    await expect(b).rejects.toBeInstanceOf(CancelledError);
  });

  it('segments: alpha when meaningful, the segmenter otherwise', async () => {
    const cut = createRgba(40, 30, [10, 200, 10, 0]);
    for (let i = 0; i < 40 * 15; i++) cut.data[i * 4 + 3] = 255;
    const alpha = await engine.segment(cut);
    expect(alpha.source).toBe('alpha');
    const photo = reference(70);
    const mask = await engine.segment(photo);
    expect(mask.source).toBe('segmenter');
    expect([mask.width, mask.height]).toEqual([70, 70]);
    expect(mask.data.every((v) => v >= 0 && v <= 1)).toBe(true);
  });

  it('segments with flip averaging: a mirrored photo gives the mirrored mask', async () => {
    const photo = createRgba(64, 48, [230, 225, 210, 255]);
    for (let y = 10; y < 40; y++) for (let x = 8; x < 30; x++) photo.data.set([30, 90, 200, 255], (y * 64 + x) * 4);
    const mirrored = createRgba(64, 48, [0, 0, 0, 255]);
    for (let y = 0; y < 48; y++) for (let x = 0; x < 64; x++) mirrored.data.set(photo.data.subarray((y * 64 + x) * 4, (y * 64 + x) * 4 + 4), (y * 64 + 63 - x) * 4);
    const a = await engine.segment(photo);
    const b = await engine.segment(mirrored);
    let worst = 0;
    for (let y = 0; y < 48; y++) for (let x = 0; x < 64; x++) worst = Math.max(worst, Math.abs(a.data[y * 64 + x] - b.data[y * 64 + 63 - x]));
    expect(worst).toBeLessThan(1e-4);
  });

  it('keeps working across more distinct prompts than the embedding cache holds', async () => {
    for (let i = 0; i < 10; i++) {
      const img = await engine.generate(request({ prompt: `prompt number ${i}`, steps: 1 }));
      expect(img.width).toBe(128);
    }
    const a = await engine.generate(request({ prompt: 'prompt number 0', steps: 2 }));
    const b = await engine.generate(request({ prompt: 'prompt number 0', steps: 2 }));
    expect(same(a, b)).toBe(true);
  });

  it('refuses bad requests with InputError', async () => {
    await expect(engine.generate(request({ steps: 0 }))).rejects.toBeInstanceOf(InputError);
    await expect(engine.generate(request({ seed: 1.5 }))).rejects.toBeInstanceOf(InputError);
    await expect(engine.generate(request({ imageScaleEnd: Number.NaN }))).rejects.toThrow(/imageScaleEnd/);
    await expect(engine.buildCache([], 1)).rejects.toBeInstanceOf(InputError);
    await expect(engine.buildCache([{ width: 2, height: 2, data: new Uint8ClampedArray(3) }], 1)).rejects.toBeInstanceOf(InputError);
  });

  it('a cache from pack A is refused by pack B (fingerprint)', async () => {
    // pack B: the same files under another name → another fingerprint
    const dir = mkdtempSync(join(tmpdir(), 'pack-b-'));
    cpSync(PACK, dir, { recursive: true });
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
    manifest.name = 'dev-tiny-b';
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
    const b = createEngine();
    try {
      const infoB = await b.load({ packUrl: dir });
      expect(infoB.fingerprint).not.toBe(info.fingerprint);
      await expect(b.generate(request({ cache, steps: 1 }))).rejects.toBeInstanceOf(CacheMismatchError);
      const bytes = await encodeDreamcache({ cache, name: 'disc' });
      const err = await decodeDreamcache(bytes, { expectedFingerprint: infoB.fingerprint }).catch((e) => e);
      expect(err).toBeInstanceOf(CacheFileError);
      expect((err as CacheFileError).reason).toBe('other_pack');
    } finally {
      await b.dispose();
    }
  });

  it('a pack with cache.selfViews ["flip"] caches each reference beside its mirror image', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pack-flip-'));
    cpSync(PACK, dir, { recursive: true });
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
    manifest.cache.selfViews = ['flip'];
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
    // an asymmetric subject, so its mirror image is another view
    const ref = reference();
    for (let y = 10; y < 40; y++) for (let x = 5; x < 20; x++) ref.data.set([20, 160, 40, 255], (y * ref.width + x) * 4);
    const f = createEngine();
    try {
      await f.load({ packUrl: dir });
      const progress: ProgressEvent[] = [];
      const flipped = await f.buildCache([ref], 3, (e) => progress.push(e));
      expect(flipped.references).toBe(2);
      expect(progress.at(-1)).toMatchObject({ stage: 'cache', step: 2, total: 2 });
      // the same numbers as the plain pack given the photo and its mirror image as two references
      const byHand = await engine.buildCache([ref, mirrorRgba(ref)], 3);
      flipped.layers.forEach((l, i) => {
        expect(l.shape).toEqual(byHand.layers[i].shape);
        expect(Buffer.compare(Buffer.from(l.data.buffer), Buffer.from(byHand.layers[i].data.buffer))).toBe(0);
      });
      const one = await engine.buildCache([ref], 3);
      expect(Buffer.compare(Buffer.from(flipped.layers[0].data.buffer), Buffer.from(one.layers[0].data.buffer))).not.toBe(0);
      await f.generate(request({ cache: flipped, steps: 1 }));
    } finally {
      await f.dispose();
    }
  });

  it('refuses to work before load', async () => {
    const fresh = createEngine();
    await expect(fresh.generate(request())).rejects.toBeInstanceOf(NotLoadedError);
    await fresh.dispose();
  });
});
