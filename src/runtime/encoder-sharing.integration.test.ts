// The embedded pack's unet graph takes `encoder_row`: DreamCache's e_u and e_i rows share the
// encoder. Sharing must not change an image (wasm, Node, 1 thread).
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import * as ort from 'onnxruntime-web';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine } from './engine';
import type { Engine, GenerateRequest, RgbaImage, SubjectCache } from './engine-types';
import { createRgba } from './image';

const PACK = resolve(__dirname, '../../public/models/tiny-emoji');

function reference(size = 128): RgbaImage {
  const img = createRgba(size, size, [255, 255, 255, 255]);
  for (let y = 30; y < 100; y++) for (let x = 40; x < 90; x++) img.data.set([40, 120, 220, 255], (y * size + x) * 4);
  return img;
}

function maxLevelDiff(a: RgbaImage, b: RgbaImage): number {
  let m = 0;
  for (let i = 0; i < a.data.length; i++) m = Math.max(m, Math.abs(a.data[i] - b.data[i]));
  return m;
}

describe('encoder sharing on the embedded pack', () => {
  const engines: Record<'shared' | 'unshared', Engine> = { shared: createEngine(), unshared: createEngine() };
  let cache: SubjectCache;

  beforeAll(async () => {
    await engines.shared.load({ packUrl: PACK, backend: 'wasm' });
    await engines.unshared.load({ packUrl: PACK, backend: 'wasm', shareEncoder: false });
    cache = await engines.shared.buildCache([reference()], 3);
  }, 120_000);
  afterAll(async () => {
    await Promise.all(Object.values(engines).map((e) => e.dispose()));
  });

  it('the exported unet graph takes encoder_row', async () => {
    const manifest = JSON.parse(readFileSync(resolve(PACK, 'manifest.json'), 'utf8'));
    const session = await ort.InferenceSession.create(readFileSync(resolve(PACK, manifest.graphs.unet.fp32)));
    try {
      expect(session.inputNames.slice(0, 5)).toEqual(['sample', 'timestep', 'encoder_hidden_states', 'adapter_gate', 'encoder_row']);
    } finally {
      await session.release();
    }
  });

  it('a cache built with sharing on equals one built with it off', async () => {
    const other = await engines.unshared.buildCache([reference()], 3);
    other.layers.forEach((l, i) => expect(Buffer.from(l.data.buffer).equals(Buffer.from(cache.layers[i].data.buffer))).toBe(true));
  });

  it('a personalized image is the same with the encoder shared as with every row through it', async () => {
    const req: GenerateRequest = {
      prompt: 'a photo of a dog on the beach', steps: 8, seed: 11, textScale: 7.5, imageScale: 8,
      scheduler: 'ddim', guidance: 'combined', cache, previewEvery: 0,
    };
    const shared = await engines.shared.generate(req);
    const unshared = await engines.unshared.generate(req);
    expect(maxLevelDiff(shared, unshared)).toBeLessThanOrEqual(1);
    // the subject matters: the same request without it is another image
    const plain = await engines.shared.generate({ ...req, cache: null });
    expect(maxLevelDiff(shared, plain)).toBeGreaterThan(20);
  }, 120_000);
});
