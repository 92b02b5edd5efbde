// The in-thread engine (Node, tests, benchmarks, and the body of the web worker): owns every
// ONNX Runtime session of the loaded pack and runs segmentation, cache building and generation.
import { chooseBackend, detectCapabilities, withThreads, type BackendChoice } from './capabilities';
import type {
  Engine,
  GenerateRequest,
  LoadedInfo,
  LoadOptions,
  MaskImage,
  ProgressCallback,
  RgbaImage,
  SubjectCache,
} from './engine-types';
import { BackendError, CacheMismatchError, CancelledError, InputError, NotLoadedError, PackError } from './errors';
import { roundToHalfInPlace } from './float16';
import { ownEncoderRows, pickRows, shareEncoderRows } from './encoder-rows';
import { uploadFeeds } from './gpu-feeds';
import { planGuidance } from './guidance';
import { alphaIsMeaningful, checkImage, flattenOnWhite, maskFromAlpha, mirrorRgba, nchwToRgba, resizeMask, resizeRgba, rgbaToNchw } from './image';
import { packFingerprint, readManifest, readVerifiedFile, usesCacheOf, type GraphRole, type PackManifest, type SelfView } from './pack';
import { createPackSource, type PackSource } from './pack-source';
import { createBlobSource } from './pack-files';
import { assertDeviceFits } from './device-fit';
import { flipAverage, flipPlanar } from './mask-flip';
import { SeededRandom } from './rng';
import { sampleLatent } from './sample';
import { yieldToEventLoop } from './yield';
import { addNoise, alphasCumprod, createScheduler } from './schedulers';
import { configureOrt, encoderRowFeed, runFloat, SessionPool, takesEncoderRow, tensor, type OrtSession } from './sessions';
import { PackTokenizer } from './tokenizer';

interface Loaded {
  manifest: PackManifest;
  fingerprint: string;
  backend: BackendChoice;
  source: PackSource;
  sessions: SessionPool;
  tokenizer: PackTokenizer;
  alphasCumprod: Float64Array;
  /** Text embeddings by prompt; small, so only the last few are kept. */
  embeddings: Map<string, Float32Array>;
  shareEncoder: boolean;
}

interface OpToken {
  cancelled: boolean;
}

const MAX_EMBEDDINGS = 8;
const MAX_STEPS = 1000;

export function createEngine(): Engine {
  return new InThreadEngine();
}

class InThreadEngine implements Engine {
  private loaded: Loaded | null = null;
  /** Operations run one at a time: an ORT session cannot run twice concurrently. */
  private queue: Promise<unknown> = Promise.resolve();
  private readonly active = new Set<OpToken>();

  /** `cancellable` ops (generate, buildCache) are stopped by cancel(), running or still queued. */
  private enqueue<T>(fn: (token: OpToken) => Promise<T>, cancellable = false): Promise<T> {
    const token: OpToken = { cancelled: false };
    if (cancellable) this.active.add(token);
    const run = async () => {
      try {
        if (token.cancelled) throw new CancelledError();
        return await fn(token);
      } finally {
        this.active.delete(token);
      }
    };
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => undefined);
    return p;
  }

  private need(): Loaded {
    if (!this.loaded) throw new NotLoadedError('No model pack is loaded: call load() first');
    return this.loaded;
  }

  load(options: LoadOptions, onProgress?: ProgressCallback): Promise<LoadedInfo> {
    return this.enqueue(async () => {
      if (this.loaded) {
        await this.loaded.sessions.dispose();
        this.loaded = null;
      }
      onProgress?.({ stage: 'load', step: 0, total: 2, message: 'Reading manifest' });
      const source = options.files ? createBlobSource(options.files, options.packUrl) : createPackSource(options.packUrl);
      const manifest = await readManifest(source);
      const fingerprint = await packFingerprint(manifest);
      const caps = await detectCapabilities();
      const chosen = chooseBackend(caps, manifest, options.backend ?? 'auto', options.numThreads);
      if (options.backend === 'webgpu' && chosen.info.kind === 'wasm') {
        throw new BackendError('WebGPU was requested but no usable WebGPU adapter is available');
      }
      assertDeviceFits(manifest, caps, chosen);
      const backend = withThreads(chosen, configureOrt(chosen.info.threads));
      onProgress?.({ stage: 'load', step: 1, total: 2, message: 'Reading tokenizer' });
      const tokBytes = await readVerifiedFile(source, manifest, manifest.tokenizer.file);
      let tokJson: object;
      try {
        tokJson = JSON.parse(new TextDecoder().decode(tokBytes));
      } catch (e) {
        throw new PackError(`${manifest.tokenizer.file} is not JSON: ${(e as Error).message}`);
      }
      const tokenizer = PackTokenizer.fromJSON(tokJson, manifest.tokenizer);
      this.loaded = {
        manifest,
        fingerprint,
        backend,
        source,
        sessions: new SessionPool(source, manifest, backend),
        tokenizer,
        alphasCumprod: alphasCumprod(manifest.scheduler),
        embeddings: new Map(),
        shareEncoder: options.shareEncoder ?? true,
      };
      onProgress?.({ stage: 'load', step: 2, total: 2, message: 'Ready' });
      return { manifest, fingerprint, backend: backend.info };
    });
  }

  private session(l: Loaded, role: GraphRole, onProgress?: ProgressCallback): Promise<OrtSession> {
    return l.sessions.get(role, (r, loaded, total) =>
      onProgress?.({ stage: 'load', step: loaded, total, message: `Loading ${r}` }),
    );
  }

  segment(photo: RgbaImage): Promise<MaskImage> {
    return this.enqueue(async () => {
      checkImage(photo, 'photo');
      if (alphaIsMeaningful(photo)) return maskFromAlpha(photo);
      const l = this.need();
      const R = l.manifest.segmenter.inputSize;
      const session = await this.session(l, 'segmenter');
      const input = rgbaToNchw(resizeRgba(photo, R, R), '01');
      // Flip test-time augmentation (mask-flip.ts): a second, small segmenter call for a measured
      // IoU gain.
      const probs: Float32Array[] = [];
      for (const image of [input, flipPlanar(input, 3, R, R)]) {
        const { mask } = await runFloat(session, 'segmenter', { image: tensor(image, [1, 3, R, R]) }, ['mask']);
        if (mask.data.length !== R * R) throw new PackError(`segmenter mask has ${mask.data.length} values, expected ${R * R}`);
        probs.push(mask.data);
      }
      const prob = flipAverage(probs[0], probs[1], R, R);
      const small: MaskImage = { width: R, height: R, data: Float32Array.from(prob, (v) => Math.min(1, Math.max(0, v))), source: 'segmenter' };
      return resizeMask(small, photo.width, photo.height);
    });
  }

  /** Text embeddings [rows, L, D] for prompts, from the cache or one text-encoder call. */
  private async embed(l: Loaded, prompts: string[], onProgress?: ProgressCallback): Promise<Float32Array[]> {
    const missing = [...new Set(prompts.filter((p) => !l.embeddings.has(p)))];
    const found = new Map(prompts.filter((p) => l.embeddings.has(p)).map((p) => [p, l.embeddings.get(p)!]));
    if (missing.length > 0) {
      const session = await this.session(l, 'text_encoder', onProgress);
      const L = l.manifest.tokenizer.maxLength;
      const D = l.manifest.textEncoder.hiddenSize;
      const ids = l.tokenizer.encodeBatch(missing);
      const { last_hidden_state: h } = await runFloat(session, 'text_encoder', { input_ids: tensor(ids, [missing.length, L]) }, ['last_hidden_state']);
      if (h.data.length !== missing.length * L * D) throw new PackError(`text_encoder output has ${h.data.length} values, expected ${missing.length * L * D}`);
      missing.forEach((p, i) => {
        const e = h.data.slice(i * L * D, (i + 1) * L * D);
        found.set(p, e);
        if (l.embeddings.size >= MAX_EMBEDDINGS) l.embeddings.delete(l.embeddings.keys().next().value!);
        l.embeddings.set(p, e);
      });
    }
    return prompts.map((p) => found.get(p)!);
  }

  /** One zero row per cached layer: "no subject" for gate-0 calls. */
  private zeroCacheFeeds(l: Loaded) {
    return Object.fromEntries(l.manifest.cache.layers.map((c) => [`cache_${c.name}`, tensor(new Float32Array(c.channels), [1, 1, c.channels])]));
  }

  buildCache(referencesOnWhite: RgbaImage[], seed: number, onProgress?: ProgressCallback): Promise<SubjectCache> {
    return this.enqueue(async (token) => {
      const l = this.need();
      if (!Array.isArray(referencesOnWhite) || referencesOnWhite.length === 0) throw new InputError('buildCache needs at least one reference image');
      if (referencesOnWhite.length > 16) throw new InputError('buildCache takes at most 16 reference images');
      checkSeed(seed);
      referencesOnWhite.forEach((r, i) => checkImage(r, `reference ${i + 1}`));
      const m = l.manifest;
      const S = m.image.size;
      const C = m.latent.channels;
      const hw = S / m.latent.downsample;
      // each reference, then the views the pack makes of it (cache.selfViews), all cached side by side
      const views = m.cache.selfViews ?? [];
      const sources = referencesOnWhite.flatMap((r) => {
        const base = flattenOnWhite(resizeRgba(r, S, S));
        return [base, ...views.map((v) => selfView(base, v))];
      });
      const K = sources.length;
      const vae = await this.session(l, 'vae_encoder', onProgress);
      const unet = await this.session(l, 'unet', onProgress);
      const [empty] = await this.embed(l, [''], onProgress);
      const L = m.tokenizer.maxLength;
      const D = m.textEncoder.hiddenSize;
      const t = m.cache.timestep;
      const rng = new SeededRandom(seed);
      const parts = m.cache.layers.map(() => [] as Float32Array[]);
      const outputs = m.cache.layers.map((c) => `features_${c.name}`);
      onProgress?.({ stage: 'cache', step: 0, total: K });
      for (let k = 0; k < K; k++) {
        await yieldToEventLoop();
        if (token.cancelled) throw new CancelledError('Cache building cancelled');
        const ref = sources[k];
        const { latent } = await runFloat(vae, 'vae_encoder', { image: tensor(rgbaToNchw(ref), [1, 3, S, S]) }, ['latent']);
        if (latent.data.length !== C * hw * hw) throw new PackError(`vae_encoder latent has ${latent.data.length} values, expected ${C * hw * hw}`);
        const xt = addNoise(latent.data, rng.gaussian(latent.data.length), t, l.alphasCumprod);
        const feats = await runFloat(
          unet,
          'unet',
          {
            sample: tensor(xt, [1, C, hw, hw]),
            timestep: tensor(Float32Array.of(t), [1]),
            encoder_hidden_states: tensor(empty, [1, L, D]),
            adapter_gate: tensor(Float32Array.of(0), [1]),
            ...encoderRowFeed(unet, [0]),
            ...this.zeroCacheFeeds(l),
          },
          outputs,
        );
        m.cache.layers.forEach((c, i) => {
          const f = feats[outputs[i]];
          const want = [1, c.height * c.width, c.channels];
          if (f.dims.length !== 3 || f.dims.some((d, j) => d !== want[j])) {
            throw new PackError(`unet ${outputs[i]} has shape [${f.dims.join(', ')}], the manifest says [${want.join(', ')}]`);
          }
          parts[i].push(f.data);
        });
        onProgress?.({ stage: 'cache', step: k + 1, total: K });
      }
      const layers = m.cache.layers.map((c, i) => {
        const n = c.height * c.width;
        const data = new Float32Array(K * n * c.channels);
        parts[i].forEach((p, k) => data.set(p, k * n * c.channels));
        // half-representable values: an fp16 .dreamcache export/import is then lossless
        roundToHalfInPlace(data);
        return { name: c.name, shape: [1, K * n, c.channels] as [number, number, number], data };
      });
      return { packName: m.name, fingerprint: l.fingerprint, references: K, layers };
    }, true);
  }

  private checkCache(l: Loaded, cache: SubjectCache): void {
    if (!usesCacheOf(l, cache.fingerprint)) {
      throw new CacheMismatchError(`This subject was cached with another model pack ("${cache.packName}"); rebuild it with "${l.manifest.name}"`);
    }
    const layers = l.manifest.cache.layers;
    if (cache.layers.length !== layers.length) throw new CacheMismatchError(`The cache has ${cache.layers.length} layers, the pack caches ${layers.length}`);
    layers.forEach((c, i) => {
      const got = cache.layers[i];
      const n = cache.references * c.height * c.width;
      if (got.name !== c.name || got.shape[0] !== 1 || got.shape[1] !== n || got.shape[2] !== c.channels || got.data.length !== n * c.channels) {
        throw new CacheMismatchError(`Cache layer ${got.name} [${got.shape.join(', ')}] does not fit the pack's ${c.name} [1, ${n}, ${c.channels}]`);
      }
    });
  }

  generate(request: GenerateRequest, onProgress?: ProgressCallback): Promise<RgbaImage> {
    return this.enqueue(async (token) => {
      const l = this.need();
      const m = l.manifest;
      checkRequest(request);
      if (request.cache) this.checkCache(l, request.cache);
      const S = m.image.size;
      const C = m.latent.channels;
      const hw = S / m.latent.downsample;
      const L = m.tokenizer.maxLength;
      const D = m.textEncoder.hiddenSize;
      const plan = planGuidance(request.cache !== null, request.guidance);
      const [empty, prompt] = await this.embed(l, ['', request.prompt], onProgress);
      const unet = await this.session(l, 'unet', onProgress);
      const shared = l.shareEncoder && takesEncoderRow(unet);
      const decoder = await this.session(l, 'vae_decoder', onProgress);
      const cacheInputs = plan.useCache
        ? Object.fromEntries(request.cache!.layers.map((c) => [`cache_${c.name}`, { data: c.data, dims: c.shape }]))
        : null;
      // On WebGPU the cache is uploaded once per image instead of once per U-Net call
      const resident = cacheInputs && l.backend.info.kind !== 'wasm' ? await uploadFeeds(cacheInputs) : null;
      const cacheFeeds = resident
        ? resident.feeds
        : cacheInputs
          ? Object.fromEntries(Object.entries(cacheInputs).map(([k, v]) => [k, tensor(v.data, [...v.dims])]))
          : this.zeroCacheFeeds(l);
      try {
        const decode = async (latent: Float32Array): Promise<RgbaImage> => {
          const { image } = await runFloat(decoder, 'vae_decoder', { latent: tensor(latent, [1, C, hw, hw]) }, ['image']);
          if (image.data.length !== 3 * S * S) throw new PackError(`vae_decoder image has ${image.data.length} values, expected ${3 * S * S}`);
          return nchwToRgba(image.data, S, S);
        };
        const total = request.steps;
        onProgress?.({ stage: 'generate', step: 0, total });
        const latent = await sampleLatent({
          scheduler: createScheduler(request.scheduler, m.scheduler),
          steps: request.steps,
          initialLatent: new SeededRandom(request.seed).gaussian(C * hw * hw),
          plan,
          textScale: request.textScale,
          imageScale: request.imageScale,
          imageScaleEnd: request.imageScaleEnd,
          isCancelled: () => token.cancelled,
          runUnet: async (b) => {
            const rows = shared ? shareEncoderRows(b.usePrompt) : ownEncoderRows(b.batch);
            const S = rows.source.length;
            const hidden = new Float32Array(S * L * D);
            rows.source.forEach((r, s) => hidden.set(b.usePrompt[r] ? prompt : empty, s * L * D));
            const { noise_pred } = await runFloat(
              unet,
              'unet',
              {
                sample: tensor(pickRows(b.sample, b.batch, rows.source), [S, C, hw, hw]),
                timestep: tensor(pickRows(b.timestep, b.batch, rows.source), [S]),
                encoder_hidden_states: tensor(hidden, [S, L, D]),
                adapter_gate: tensor(b.gates, [b.batch]),
                ...encoderRowFeed(unet, rows.encoderRow),
                ...cacheFeeds,
              },
              ['noise_pred'],
            );
            if (noise_pred.data.length !== b.sample.length) throw new PackError(`unet noise_pred has ${noise_pred.data.length} values, expected ${b.sample.length}`);
            return noise_pred.data;
          },
          onStep: async (step, steps, predOriginal) => {
            const wantPreview = request.previewEvery > 0 && step % request.previewEvery === 0 && step < steps;
            const preview = wantPreview && !token.cancelled ? await decode(predOriginal) : undefined;
            onProgress?.({ stage: 'generate', step, total: steps, preview });
          },
        });
        if (token.cancelled) throw new CancelledError('Generation cancelled');
        return await decode(latent);
      } finally {
        resident?.release();
      }
    }, true);
  }

  cancel(): void {
    for (const t of this.active) t.cancelled = true;
  }

  dispose(): Promise<void> {
    this.cancel();
    return this.enqueue(async () => {
      if (this.loaded) await this.loaded.sessions.dispose();
      this.loaded = null;
    }).catch(() => undefined);
  }
}

function checkSeed(seed: number): void {
  if (!Number.isSafeInteger(seed)) throw new InputError(`seed must be an integer, got ${seed}`);
}

function checkRequest(r: GenerateRequest): void {
  if (typeof r.prompt !== 'string') throw new InputError('prompt must be a string');
  if (!Number.isInteger(r.steps) || r.steps < 1 || r.steps > MAX_STEPS) throw new InputError(`steps must be an integer in [1, ${MAX_STEPS}], got ${r.steps}`);
  checkSeed(r.seed);
  if (!Number.isFinite(r.textScale) || !Number.isFinite(r.imageScale)) throw new InputError('guidance scales must be finite numbers');
  if (r.imageScaleEnd !== undefined && !Number.isFinite(r.imageScaleEnd)) throw new InputError('imageScaleEnd must be a finite number when given');
  if (r.scheduler !== 'ddim' && r.scheduler !== 'dpmpp2m') throw new InputError(`unknown scheduler "${String(r.scheduler)}"`);
  if (r.guidance !== 'combined' && r.guidance !== 'joint') throw new InputError(`unknown guidance mode "${String(r.guidance)}"`);
  if (!Number.isInteger(r.previewEvery) || r.previewEvery < 0) throw new InputError('previewEvery must be a non-negative integer');
}

/** A view of a reference on white made from the image alone (docs/model-pack.md, cache.selfViews). */
function selfView(img: RgbaImage, view: SelfView): RgbaImage {
  switch (view) {
    case 'flip':
      return mirrorRgba(img);
  }
}
