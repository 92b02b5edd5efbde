// onnxruntime-web timings of a model pack — the runtime the browser app uses — in Node, on
// the WebGPU EP through Dawn (npm `webgpu`) or on the wasm EP (CPU; proves the code path).
//
//   node bench/gpu/ort_bench.mjs --pack DIR --json OUT.json [--ep webgpu|wasm] [--precision fp16|fp32]
//        [--bundle webgpu|jsep|wasm] [--runs 10] [--steps 50] [--refs 1,3] [--no-baseline]
//        [--graph-capture] [--threads 1] [--profile | --profile-only] [--profile-runs 5]
//        [--profile-trace OUT.json.gz] [--time-left SECONDS]
//
// Measures the same things as torch_bench.py: unet_b2 (plain CFG), unet_b3 / unet_b1 (base model at
// DreamCache's batch and at batch 1), dreamcache_b3_k{K},
// cache_build_k{K} with its two halves alone: vae_encode_k{K} (the VAE encode of the K
// references) and cache_pass_k{K} (the U-Net pass returning the cached features, on latents
// encoded and noised to t=1 beforehand: the method's one-U-Net-pass personalization cost),
// reference_step_k{K} (BootPIG/JeDi-style baseline: the noised references
// through the U-Net for both branches that use them, batch 2K, then the batch-3 pass attending
// to those fresh features), whole 50-step images, session creation. Results are written after
// every measurement, so a run cut short still leaves what it measured.
// Baseline caveat: the graph shares one cache across its rows, so e_i and e_c both attend to
// the prompt branch's reference features; the work done is the same as per-row features.
// Every measurement is its own stage: one that fails records {error} under its name and the
// rest still run. On WebGPU the cache features stay on the GPU (`gpu-buffer` outputs);
// dreamcache_b3_k{K} feeds a CPU cache (uploaded every call, as src/runtime does today) and
// dreamcache_b3_k{K}_gpucache the GPU-resident one, so the difference is the upload.
// Packs whose unet graph takes `encoder_row` (docs/model-pack.md) add dreamcache_b3_k{K}_gpucache_shared
// (e_u and e_i share the encoder: 2 encoder rows fanned out to 3, the app's call) and
// image_dreamcache_k1_unshared (the whole image with every row through the U-Net; the image_* stages
// share the encoder, as the app does).
// --profile (WebGPU only) adds a last stage, profile_unet_b2: a fresh unet session with ORT's
// profiler on, 2 warm-up + --profile-runs unet_b2 calls, GPU kernel times per op type and per
// program (ort_profile.mjs); skipped when --time-left says the run cannot fit it. --profile-only
// times unet_b2 and profiles it, nothing else (text encoder and VAE are not loaded).
import { closeSync, openSync, readFileSync, readSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { aggregate, captureFd1, lastCallTrace, parseTrace } from './ort_profile.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const T0 = performance.now();
const BUNDLES = { webgpu: 'ort.webgpu.min.mjs', jsep: 'ort.min.mjs', wasm: 'ort.wasm.min.mjs' };

function parseArgs(argv) {
  const a = { ep: 'webgpu', precision: 'fp16', bundle: null, runs: 10, warmup: 2, steps: 50, refs: [1, 3],
    baseline: true, graphCapture: false, threads: 1, pack: null, json: null, modules: null, ortDir: null,
    profile: false, profileOnly: false, profileRuns: 5, profileTrace: null, timeLeft: Infinity };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = () => argv[++i];
    if (k === '--pack') a.pack = v();
    else if (k === '--json') a.json = v();
    else if (k === '--ep') a.ep = v();
    else if (k === '--precision') a.precision = v();
    else if (k === '--bundle') a.bundle = v();
    else if (k === '--runs') a.runs = Number(v());
    else if (k === '--warmup') a.warmup = Number(v());
    else if (k === '--steps') a.steps = Number(v());
    else if (k === '--refs') a.refs = v().split(',').map(Number);
    else if (k === '--no-baseline') a.baseline = false;
    else if (k === '--graph-capture') a.graphCapture = true;
    else if (k === '--threads') a.threads = Number(v());
    else if (k === '--node-modules') a.modules = v();
    else if (k === '--ort-dir') a.ortDir = v();
    else if (k === '--profile') a.profile = true;
    else if (k === '--profile-only') a.profile = a.profileOnly = true;
    else if (k === '--profile-runs') a.profileRuns = Number(v());
    else if (k === '--profile-trace') a.profileTrace = v();
    else if (k === '--time-left') a.timeLeft = Number(v());
    else throw new Error(`unknown argument ${k}`);
  }
  if (!a.pack || !a.json) throw new Error('--pack and --json are required');
  a.bundle = a.bundle ?? 'webgpu'; // ort.webgpu.min.mjs runs the wasm EP too
  a.modules = a.modules ?? resolve(HERE, '..', '..', 'node_modules');
  // Another onnxruntime-web release than the app's, to compare versions in one run.
  a.ortDir = a.ortDir ?? join(a.modules, 'onnxruntime-web');
  return a;
}

/** Nodes of type `op` in an ONNX file's bytes, without parsing 1.7 GB of protobuf: NodeProto's
 * op_type is field 4 (tag 0x22), then the name's length and the name; node and tensor names use
 * other tags. Weights matching those 9-20 bytes by chance are negligible. */
function countOp(bytes, op) {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const pat = Buffer.concat([Buffer.from([0x22, op.length]), Buffer.from(op)]);
  let n = 0;
  for (let i = buf.indexOf(pat); i >= 0; i = buf.indexOf(pat, i + pat.length)) n++;
  return n;
}

/** Files past 2 GiB (fp32 SD U-Net data) cannot go through readFileSync: read in chunks. */
function readBig(path) {
  const size = statSync(path).size;
  if (size < 2 ** 31 - 1) return readFileSync(path);
  const out = new Uint8Array(size);
  const fd = openSync(path, 'r');
  for (let off = 0; off < size;) off += readSync(fd, out, off, Math.min(2 ** 30, size - off), off);
  closeSync(fd);
  return out;
}

/** Dawn's Node binding refuses views of a SharedArrayBuffer (ORT's wasm heap): copy them. */
function patchDawn(globals) {
  const plain = (d) => (d && ArrayBuffer.isView(d) && d.buffer instanceof SharedArrayBuffer ? d.slice() : d);
  const q = globals.GPUQueue.prototype;
  const write = q.writeBuffer;
  q.writeBuffer = function (buffer, offset, data, ...rest) {
    if (data instanceof SharedArrayBuffer) data = new Uint8Array(data).slice().buffer;
    return write.call(this, buffer, offset, plain(data), ...rest);
  };
  for (const cls of [globals.GPUComputePassEncoder, globals.GPURenderPassEncoder]) {
    if (!cls) continue;
    const set = cls.prototype.setBindGroup;
    cls.prototype.setBindGroup = function (index, group, offsets, ...rest) {
      return set.call(this, index, group, plain(offsets), ...rest);
    };
  }
}

async function loadOrt(a) {
  if (a.ep === 'webgpu') {
    const { create, globals } = await import(pathToFileURL(join(a.modules, 'webgpu', 'index.js')).href);
    Object.assign(globalThis, globals);
    patchDawn(globals);
    // Without this toggle Dawn reports no shader-f16 on NVIDIA/Vulkan and fp16 graphs fail.
    // dawn.node takes the first adapter Vulkan lists (the loader sorts discrete GPUs by PCI bus,
    // i.e. nvidia-smi's index 0); `adapter=` only filters by name, so it cannot tell identical
    // cards apart: DAWN_ADAPTER is for boxes with mixed models.
    const flags = ['enable-dawn-features=vulkan_enable_f16_on_nvidia'];
    if (process.env.DAWN_ADAPTER) flags.push(`adapter=${process.env.DAWN_ADAPTER}`);
    // Dawn rounds timestamp-query results by default (a browser anti-fingerprinting measure);
    // only the profile stage reads timestamps, so the timed stages are unaffected.
    if (a.profile) flags.push('disable-dawn-features=timestamp_quantization');
    const gpu = create(flags);
    Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true });
  }
  const ort = await import(pathToFileURL(join(a.ortDir, 'dist', BUNDLES[a.bundle])).href);
  ort.env.wasm.numThreads = a.threads;
  ort.env.logLevel = 'error'; // verbose logging slowed runs 2-5x
  return ort;
}

// --- numerics: seeded normals, DDIM (eta 0), 3-branch guidance -------------------------------
function rng(seed) {
  let s = seed >>> 0;
  const u = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return (n) => {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i += 2) {
      const r = Math.sqrt(-2 * Math.log(u() + 1e-12));
      const th = 2 * Math.PI * u();
      out[i] = r * Math.cos(th);
      if (i + 1 < n) out[i + 1] = r * Math.sin(th);
    }
    return out;
  };
}

function alphasCumprod(s) {
  const n = s.numTrainTimesteps;
  const acp = new Float64Array(n);
  let p = 1;
  for (let i = 0; i < n; i++) {
    const f = n === 1 ? 0 : i / (n - 1);
    const beta = s.betaSchedule === 'scaled_linear'
      ? (Math.sqrt(s.betaStart) + f * (Math.sqrt(s.betaEnd) - Math.sqrt(s.betaStart))) ** 2
      : s.betaStart + f * (s.betaEnd - s.betaStart);
    p *= 1 - beta;
    acp[i] = p;
  }
  return acp;
}

const ddimTimesteps = (steps, n) => Array.from({ length: steps }, (_, i) => i * Math.floor(n / steps) + 1).reverse();

function stats(xs) {
  const s = [...xs].sort((x, y) => x - y);
  const median = s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  return { median, mean: xs.reduce((x, y) => x + y, 0) / xs.length, min: s[0], runs: xs.length };
}

// --- the benchmark -----------------------------------------------------------------------------
class OrtBench {
  constructor(a, ort) {
    this.a = a;
    this.ort = ort;
    this.m = JSON.parse(readFileSync(join(a.pack, 'manifest.json'), 'utf8'));
    const m = this.m;
    this.size = m.image.size;
    this.lat = m.image.size / m.latent.downsample;
    this.C = m.latent.channels;
    this.L = m.tokenizer.maxLength;
    this.D = m.textEncoder.hiddenSize;
    this.layers = m.cache.layers;
    this.acp = alphasCumprod(m.scheduler);
    this.randn = rng(1234);
    this.res = { runtime: 'onnxruntime-web', ep: a.ep, bundle: BUNDLES[a.bundle], precision: a.precision,
      ortVersion: JSON.parse(readFileSync(join(a.ortDir, 'package.json'), 'utf8')).version,
      pack: m.name, imageSize: this.size, node: process.version, sessions: {} };
    this.peakRss = 0;
  }

  save() {
    this.peakRss = Math.max(this.peakRss, process.memoryUsage().rss);
    this.res.peakRssMB = this.peakRss / 2 ** 20;
    writeFileSync(this.a.json, JSON.stringify(this.res, null, 2));
  }

  async session(role, extra = {}) {
    const g = this.m.graphs[role];
    const prec = this.a.precision === 'fp16' && g.fp16 ? 'fp16' : 'fp32';
    const file = g[prec];
    const data = g[`${prec}Data`];
    // NHWC is the native WebGPU backend's default; stated because NCHW measured 1.7-1.8x slower
    // on the fused SD U-Net (/work/shared/notes/gpu-box.md).
    const ep = this.a.ep === 'webgpu' ? { name: 'webgpu', preferredLayout: 'NHWC' } : this.a.ep;
    const opts = { executionProviders: [ep], graphOptimizationLevel: 'all', ...extra };
    if (data) opts.externalData = [{ path: data, data: readBig(join(this.a.pack, data)) }];
    const bytes = readBig(join(this.a.pack, file));
    // Fused (MultiHeadAttention) or plain (MatMul/Softmax) attention: the first GPU run timed a
    // plain graph without knowing it.
    const ops = { MultiHeadAttention: countOp(bytes, 'MultiHeadAttention'), Softmax: countOp(bytes, 'Softmax') };
    const t = performance.now();
    const s = await this.ort.InferenceSession.create(bytes, opts);
    const key = extra.enableGraphCapture ? `${role}_graphcapture` : extra.enableProfiling ? `${role}_profile` : role;
    this.res.sessions[key] = { file, precision: prec, createMs: performance.now() - t, ops };
    this.save();
    return s;
  }

  f32(data, dims) {
    return new this.ort.Tensor('float32', data, dims);
  }

  zeroCaches() {
    const f = {};
    for (const l of this.layers) f[`cache_${l.name}`] = this.f32(new Float32Array(l.channels), [1, 1, l.channels]);
    return f;
  }

  randomCaches(k) {
    const f = {};
    for (const l of this.layers) {
      const n = k * l.height * l.width;
      f[`cache_${l.name}`] = this.f32(this.randn(n * l.channels), [1, n, l.channels]);
    }
    return f;
  }

  /** Feeds of a b-row U-Net call. encoderRow (graphs with `encoder_row`, docs/model-pack.md):
   * which encoder row each of the b rows continues; x, ctx and t then hold the encoder rows. */
  unetFeeds(b, t, gate, caches, x = null, ctx = null, encoderRow = null) {
    const hw = this.lat * this.lat;
    if (encoderRow && !this.hasEncoderRow) throw new Error('this pack\'s unet graph has no encoder_row input');
    const rows = encoderRow ? Math.max(...encoderRow) + 1 : b;
    const rowMap = encoderRow ?? Array.from({ length: b }, (_, r) => r);
    return {
      sample: this.f32(x ?? this.randn(rows * this.C * hw), [rows, this.C, this.lat, this.lat]),
      timestep: this.f32(Float32Array.from(Array.isArray(t) ? t : Array(rows).fill(t)), [rows]),
      encoder_hidden_states: this.f32(ctx ?? this.randn(rows * this.L * this.D), [rows, this.L, this.D]),
      adapter_gate: this.f32(Float32Array.from(gate), [b]),
      ...(this.hasEncoderRow ? { encoder_row: new this.ort.Tensor('int64', BigInt64Array.from(rowMap, BigInt), [b]) } : {}),
      ...caches,
    };
  }

  /** One stage: its failure is recorded under its name and does not stop the others. */
  async stage(name, fn) {
    try {
      await fn();
    } catch (e) {
      this.res[name] = { error: String(e.stack ?? e).slice(0, 1000) };
      this.errors = (this.errors ?? 0) + 1;
      console.log(`${name}: FAILED ${String(e.message ?? e).split('\n')[0]}`);
      this.save();
    }
  }

  async measure(name, fn) {
    await this.stage(name, async () => {
      for (let i = 0; i < this.a.warmup; i++) await fn();
      const times = [];
      for (let i = 0; i < this.a.runs; i++) {
        const t = performance.now();
        await fn();
        times.push(performance.now() - t);
      }
      this.res[name] = stats(times);
      console.log(`${name}: ${this.res[name].median.toFixed(2)} ms`);
      this.save();
    });
  }

  /** Reads noise_pred back: the step loop needs it on the CPU, and it ends the GPU work. */
  async noise(out) {
    const t = out.noise_pred;
    return t.location === 'cpu' ? t.data : await t.getData();
  }

  features() {
    return this.layers.map((l) => `features_${l.name}`);
  }

  /** Features [B, hw, C] → the cache input [1, rows·hw, C] from the first `rows` rows. A GPU
   * one is a view of ORT's output buffer (the first rows are its prefix): it has no downloader,
   * so never call getData() on it — read or wait through the original output (cachesFrom). */
  async asCache(tensor, rows, l) {
    const n = rows * l.height * l.width;
    const dims = [1, n, l.channels];
    if (tensor.location === 'gpu-buffer') {
      try {
        return this.ort.Tensor.fromGpuBuffer(tensor.gpuBuffer, { dataType: 'float32', dims });
      } catch {
        const d = await tensor.getData();
        return this.f32(d.subarray(0, n * l.channels), dims);
      }
    }
    return this.f32(tensor.data.subarray(0, n * l.channels), dims);
  }

  /** Cache building from reference images already in memory (the app has the decoded photo). */
  async buildCache(refs, k, emptyCtx) {
    return this.cachePass(this.cachePassFeeds(await this.encodeRefs(refs), k, emptyCtx), k);
  }

  /** K random reference images in [-1, 1], [K, 3, S, S]. */
  randomRefs(k) {
    return this.f32(this.randn(k * 3 * this.size * this.size).map((v) => Math.max(-1, Math.min(1, v))),
      [k, 3, this.size, this.size]);
  }

  /** The VAE encode of cache building: latents of the K references, on the CPU. */
  async encodeRefs(refs) {
    return (await this.vaeEnc.run({ image: refs })).latent.data;
  }

  /** The U-Net feeds of cache building: the latents noised to cache.timestep, the empty prompt,
   * gate 0 (docs/model-pack.md, "Building a cache"). */
  cachePassFeeds(x0, k, emptyCtx) {
    const a = this.acp[this.m.cache.timestep];
    const eps = this.randn(x0.length);
    const xt = x0.map((v, i) => Math.sqrt(a) * v + Math.sqrt(1 - a) * eps[i]);
    const ctx = new Float32Array(k * this.L * this.D);
    for (let i = 0; i < k; i++) ctx.set(emptyCtx, i * this.L * this.D);
    return this.unetFeeds(k, this.m.cache.timestep, Array(k).fill(0), this.zeroCaches(), xt, ctx);
  }

  /** The U-Net pass of cache building: one call returning the features, the cache of K images. */
  async cachePass(feeds, k) {
    return this.cachesFrom(await this.unet.run(feeds, this.features()), k);
  }

  /** {cache_<layer>: tensor} from a features output; `release()` frees the GPU buffers after use,
   * `sync()` waits until the GPU has written them (downloads the smallest layer's original
   * output: ORT's download queues behind the pass that wrote it). */
  async cachesFrom(out, rows) {
    const caches = {};
    for (const l of this.layers) caches[`cache_${l.name}`] = await this.asCache(out[`features_${l.name}`], rows, l);
    const smallest = [...this.layers].sort((x, y) => x.height * x.width * x.channels - y.height * y.width * y.channels)[0];
    Object.defineProperties(caches, {
      // Every output, whatever its location now: sync()'s download leaves that tensor on 'cpu'
      // with its GPU buffer still held until dispose().
      release: { value: () => this.features().forEach((f) => out[f].dispose()) },
      sync: { value: async () => {
        const t = out[`features_${smallest.name}`];
        if (t.location === 'gpu-buffer') await t.getData();
      } },
    });
    return caches;
  }

  /** Baseline: K noised reference latents through the U-Net for both branches (prompt rows first). */
  async referenceFeatures(refLat, k, t, emptyCtx, promptCtx) {
    const a = this.acp[t];
    const eps = this.randn(refLat.length);
    const xr = refLat.map((v, i) => Math.sqrt(a) * v + Math.sqrt(1 - a) * eps[i]);
    const per = this.C * this.lat * this.lat;
    const x = new Float32Array(2 * k * per);
    x.set(xr, 0);
    x.set(xr, k * per);
    const ld = this.L * this.D;
    const ctx = new Float32Array(2 * k * ld);
    for (let i = 0; i < k; i++) {
      ctx.set(promptCtx, i * ld);
      ctx.set(emptyCtx, (k + i) * ld);
    }
    const out = await this.unet.run(this.unetFeeds(2 * k, t, Array(2 * k).fill(0), this.zeroCaches(), x, ctx), this.features());
    return this.cachesFrom(out, k);
  }

  async textPair() {
    const ids = new BigInt64Array(2 * this.L).map(() => BigInt(Math.floor(Math.random() * this.m.tokenizer.vocabSize)));
    const h = (await this.text.run({ input_ids: new this.ort.Tensor('int64', ids, [2, this.L]) })).last_hidden_state.data;
    const ld = this.L * this.D;
    return { empty: h.slice(0, ld), prompt: h.slice(ld, 2 * ld) };
  }

  /** A whole image as the app makes it: with a graph that takes encoder_row, e_u and e_i share
   * the encoder (share = false: every row through the whole U-Net, for the before/after). */
  async image(k, method, share = this.hasEncoderRow) {
    const steps = this.a.steps;
    const ts = ddimTimesteps(steps, this.m.scheduler.numTrainTimesteps);
    const ratio = Math.floor(this.m.scheduler.numTrainTimesteps / steps);
    const per = this.C * this.lat * this.lat;
    const ld = this.L * this.D;
    const refs = this.randomRefs(k); // the photos exist before the image is asked for
    const t0 = performance.now();
    const { empty, prompt } = await this.textPair();
    const encoderRow = share ? [0, 0, 1] : null;
    const rows = share ? 2 : 3;
    const ctx = new Float32Array(rows * ld);
    ctx.set(empty, 0);
    ctx.set(share ? prompt : empty, ld);
    if (!share) ctx.set(prompt, 2 * ld);
    let cache = null;
    let refLat = null;
    if (method === 'dreamcache') cache = await this.buildCache(refs, k, empty);
    else refLat = await this.encodeRefs(refs);
    const tPersonal = performance.now();
    let x = this.randn(per);
    for (const t of ts) {
      const feats = cache ?? (await this.referenceFeatures(refLat, k, t, empty, prompt));
      const xin = new Float32Array(rows * per);
      for (let r = 0; r < rows; r++) xin.set(x, r * per);
      const e = await this.noise(await this.unet.run(this.unetFeeds(3, t, [0, 1, 1], feats, xin, ctx, encoderRow), ['noise_pred']));
      if (!cache) feats.release();
      const aT = this.acp[t];
      const aP = t - ratio >= 0 ? this.acp[t - ratio] : this.acp[0];
      const nx = new Float32Array(per);
      for (let i = 0; i < per; i++) {
        const eu = e[i];
        const ei = e[per + i];
        const ec = e[2 * per + i];
        const g = eu + this.m.guidance.textScale * (ec - ei) + this.m.guidance.imageScale * (ei - eu);
        const x0 = (x[i] - Math.sqrt(1 - aT) * g) / Math.sqrt(aT);
        nx[i] = Math.sqrt(aP) * x0 + Math.sqrt(1 - aP) * g;
      }
      x = nx;
    }
    cache?.release();
    const tSteps = performance.now();
    const img = (await this.vaeDec.run({ latent: this.f32(x, [1, this.C, this.lat, this.lat]) })).image;
    const data = img.location === 'cpu' ? img.data : await img.getData();
    const t1 = performance.now();
    return { totalMs: t1 - t0, personalizeMs: tPersonal - t0, stepsMs: tSteps - tPersonal, decodeMs: t1 - tSteps,
      steps, sharedEncoder: share, finite: data.every(Number.isFinite) };
  }

  async graphCapture(k) {
    // Static shapes, every input and output on the GPU: what onnxruntime-web's graph capture needs.
    const over = { batch: 3, ...(this.hasEncoderRow ? { rows: 3 } : {}) };
    for (const l of this.layers) over[`n_${l.name}`] = k * l.height * l.width;
    const s = await this.session('unet', { freeDimensionOverrides: over, enableGraphCapture: true,
      preferredOutputLocation: 'gpu-buffer' });
    const device = this.ort.env.webgpu.device;
    const feeds = {};
    for (const [name, t] of Object.entries(this.unetFeeds(3, 500, [0, 1, 1], this.randomCaches(k)))) {
      const bytes = Math.ceil(t.data.byteLength / 16) * 16;
      // eslint-disable-next-line no-undef
      const buf = device.createBuffer({ size: bytes, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
      device.queue.writeBuffer(buf, 0, t.data);
      feeds[name] = this.ort.Tensor.fromGpuBuffer(buf, { dataType: t.type, dims: t.dims });
    }
    await this.measure(`dreamcache_b3_k${k}_graphcapture`, async () => this.noise(await s.run(feeds)));
    await s.release();
  }

  /** What ORT got from Dawn (requested by ORT itself: an adapter used before is "consumed"), and
   * the device's features: whether `shader-f16` was there decides if fp16 graphs ran f16 kernels
   * (the adapter info came back empty in sessions 3-4). */
  async logAdapter() {
    try {
      const info = this.ort.env.webgpu?.adapter?.info ?? {};
      this.res.adapter = { vendor: info.vendor, architecture: info.architecture, device: info.device,
        description: info.description };
      const device = await Promise.resolve(this.ort.env.webgpu?.device).catch(() => undefined);
      if (device?.features) {
        this.res.adapter.deviceFeatures = [...device.features].sort();
        this.res.adapter.shaderF16 = device.features.has('shader-f16');
        this.res.adapter.maxStorageBufferBindingSize = device.limits?.maxStorageBufferBindingSize;
      }
    } catch (e) {
      this.res.adapter = { error: String(e.message ?? e) };
    }
    console.log(`adapter: ${JSON.stringify(this.res.adapter)}`);
    this.save();
  }

  /** The U-Net session as every timed stage uses it (features stay on the GPU on WebGPU). */
  unetOptions() {
    if (this.a.ep !== 'webgpu') return {};
    const loc = { noise_pred: 'cpu' };
    for (const f of this.features()) loc[f] = 'gpu-buffer';
    return { preferredOutputLocation: loc };
  }

  async unetB2(s) {
    return this.noise(await s.run(this.unetFeeds(2, 500, [0, 0], this.zeroCaches()), ['noise_pred']));
  }

  /** Last stage, on its own session: ORT profiles from session creation on, and profiling slows
   * every dispatch (one compute pass and two timestamps each). See ort_profile.mjs for the API. */
  async profile() {
    const name = 'profile_unet_b2';
    const a = this.a;
    if (a.ep !== 'webgpu') {
      this.res[name] = { skipped: `WebGPU-only (this run: --ep ${a.ep})` };
      console.log(`${name}: skipped, the GPU kernel profile is WebGPU-only (--ep ${a.ep})`);
      this.save();
      return;
    }
    const warmup = 2;
    const createMs = this.res.sessions.unet?.createMs ?? 60000;
    const callMs = this.res.unet_b2?.median ?? 2000;
    const needS = (1.2 * createMs + (warmup + a.profileRuns) * (3 * callMs + 500)) / 1e3 + 20;
    const leftS = a.timeLeft - (performance.now() - T0) / 1e3;
    if (leftS < needS) {
      this.res[name] = { skipped: `time budget: needs ~${needS.toFixed(0)} s, ${leftS.toFixed(0)} s left` };
      console.log(`${name}: skipped, ${this.res[name].skipped}`);
      this.save();
      return;
    }
    await this.stage(name, async () => {
      // Frees the timed session's weights first: nothing runs on it after this stage.
      await this.unet?.release().catch(() => {});
      this.unet = null;
      // endProfiling() runs the wasm call inside an un-awaited async function: a failure there is
      // an unhandled rejection, which would end the process. Recorded instead.
      const rejections = [];
      const onRejection = (e) => rejections.push(String(e?.stack ?? e).slice(0, 500));
      process.on('unhandledRejection', onRejection);
      try {
        const s = await this.session('unet', { ...this.unetOptions(), enableProfiling: true });
        for (let i = 0; i < warmup; i++) await this.unetB2(s);
        const wall = [];
        for (let i = 0; i < a.profileRuns; i++) {
          const t = performance.now();
          await this.unetB2(s);
          wall.push(performance.now() - t);
        }
        const text = await captureFd1(async () => {
          s.endProfiling();
          await new Promise((r) => setTimeout(r, 50));
        });
        await s.release();
        const trace = parseTrace(text);
        const totalRuns = warmup + a.profileRuns;
        const r = aggregate(trace, { calls: a.profileRuns, totalRuns, wallMs: wall, unprofiledMs: this.res.unet_b2?.median });
        let tsq = null;
        try {
          tsq = this.ort.env.webgpu.device?.features?.has('timestamp-query') ?? null;
        } catch {}
        r.timestampQuery = tsq;
        r.dawnFlags = ['disable-dawn-features=timestamp_quantization'];
        r.traceBytes = text.length;
        if (rejections.length) r.rejections = rejections;
        if (!trace.gpu.length) r.warning = `no GPU kernel events in ORT's trace (device timestamp-query: ${tsq})`;
        if (a.profileTrace && trace.gpu.length) {
          writeFileSync(a.profileTrace, lastCallTrace(trace, { calls: a.profileRuns, totalRuns }));
          r.traceFile = a.profileTrace;
        }
        this.res[name] = r;
        const ops = r.byOpType.slice(0, 5).map((o) => `${o.opType} ${(100 * o.share).toFixed(0)}%`).join(', ');
        console.log(`${name}: GPU kernels ${r.gpuKernelMsPerCall} ms/call (${r.kernelsPerCall} dispatches, span ` +
          `${r.gpuSpanMsPerCall ?? '?'} ms), CPU in kernels ${r.cpuKernelMsPerCall} ms, profiled wall ${r.wallMsPerCall} ms, ` +
          `unprofiled ${r.unprofiledWallMs} ms → ${r.bound ?? '?'}; ${ops}${r.warning ? `; ${r.warning}` : ''}`);
        this.save();
      } finally {
        await new Promise((r) => setTimeout(r, 0));
        process.off('unhandledRejection', onRejection);
      }
    });
  }

  /** --profile-only: unet_b2 timed as in run(), then profiled; no other model or stage. */
  async runProfileOnly() {
    this.res.profileOnly = true;
    this.unet = await this.session('unet', this.unetOptions());
    this.hasEncoderRow = this.unet.inputNames.includes('encoder_row');
    if (this.a.ep === 'webgpu') await this.logAdapter();
    this.res.precision = this.res.sessions.unet.precision;
    await this.measure('unet_b2', async () => this.unetB2(this.unet));
    await this.profile();
  }

  async run() {
    const a = this.a;
    if (a.profileOnly) return this.runProfileOnly();
    const gpuOut = a.ep === 'webgpu';
    this.text = await this.session('text_encoder');
    if (gpuOut) await this.logAdapter();
    this.vaeEnc = await this.session('vae_encoder');
    this.vaeDec = await this.session('vae_decoder');
    this.unet = await this.session('unet', this.unetOptions());
    this.hasEncoderRow = this.res.encoderRow = this.unet.inputNames.includes('encoder_row');
    this.res.precision = this.res.sessions.unet.precision; // what the U-Net actually runs in
    await this.measure('unet_b2', async () => this.unetB2(this.unet));
    // The base model at DreamCache's batch (equal-batch reference) and at batch 1 (one base call,
    // the reference for cache building): gate 0 with the one-row "no subject" cache.
    await this.measure('unet_b3', async () => this.noise(await this.unet.run(this.unetFeeds(3, 500, [0, 0, 0], this.zeroCaches()), ['noise_pred'])));
    await this.measure('unet_b1', async () => this.noise(await this.unet.run(this.unetFeeds(1, 500, [0], this.zeroCaches()), ['noise_pred'])));
    let text = null;
    await this.stage('text_pair', async () => { text = await this.textPair(); });
    // Without the text encoder the stages below still time the same calls on random embeddings.
    const { empty, prompt } = text ?? { empty: this.randn(this.L * this.D), prompt: this.randn(this.L * this.D) };
    for (const k of a.refs) {
      const caches = this.randomCaches(k);
      await this.measure(`dreamcache_b3_k${k}`, async () => this.noise(await this.unet.run(this.unetFeeds(3, 500, [0, 1, 1], caches), ['noise_pred'])));
      // The random reference images are made outside the timed region (drawing 3×512×512
      // normals in JS took ~50 ms per image on a 2-core CPU, no part of cache building).
      const refImages = this.randomRefs(k);
      await this.measure(`cache_build_k${k}`, async () => {
        const c = await this.buildCache(refImages, k, empty);
        await c.sync(); // the features are GPU outputs: the pass is timed to its end
        c.release();
      });
      // cache_build_k{K}'s two halves, each timed alone with its inputs made beforehand: the
      // encode (latents come back to the CPU, as in buildCache), then the U-Net pass on those
      // latents already noised (features timed to their end on the GPU, as above).
      await this.stage(`vae_encode_k${k}`, async () => {
        const refs = this.randomRefs(k);
        await this.measure(`vae_encode_k${k}`, async () => this.encodeRefs(refs));
      });
      await this.stage(`cache_pass_k${k}`, async () => {
        const feeds = this.cachePassFeeds(await this.encodeRefs(this.randomRefs(k)), k, empty);
        await this.measure(`cache_pass_k${k}`, async () => {
          const c = await this.cachePass(feeds, k);
          await c.sync();
          c.release();
        });
      });
      if (gpuOut) {
        // The cache as it comes out of cache building, left on the GPU: no per-call upload.
        await this.stage(`dreamcache_b3_k${k}_gpucache`, async () => {
          const c = await this.buildCache(this.randomRefs(k), k, empty);
          try {
            await this.measure(`dreamcache_b3_k${k}_gpucache`, async () =>
              this.noise(await this.unet.run(this.unetFeeds(3, 500, [0, 1, 1], c), ['noise_pred'])));
            // The app's call: e_u and e_i share the encoder (2 encoder rows fanned out to 3).
            if (this.hasEncoderRow) {
              const x = this.randn(this.C * this.lat * this.lat);
              const xin = new Float32Array(2 * x.length);
              xin.set(x, 0);
              xin.set(x, x.length);
              const ctx = new Float32Array(2 * this.L * this.D);
              ctx.set(empty, 0);
              ctx.set(prompt, this.L * this.D);
              await this.measure(`dreamcache_b3_k${k}_gpucache_shared`, async () =>
                this.noise(await this.unet.run(this.unetFeeds(3, 500, [0, 1, 1], c, xin, ctx, [0, 0, 1]), ['noise_pred'])));
            }
          } finally {
            c.release();
          }
        });
      }
      if (a.baseline) {
        const refLat = this.randn(k * this.C * this.lat * this.lat);
        await this.measure(`reference_step_k${k}`, async () => {
          const f = await this.referenceFeatures(refLat, k, 500, empty, prompt);
          await this.noise(await this.unet.run(this.unetFeeds(3, 500, [0, 1, 1], f), ['noise_pred']));
          f.release();
        });
      }
    }
    for (const k of a.refs) {
      for (const method of a.baseline ? ['dreamcache', 'reference'] : ['dreamcache']) {
        const name = `image_${method}_k${k}`;
        await this.stage(name, async () => {
          const r = await this.image(k, method);
          this.res[name] = r;
          console.log(`${name}: ${r.totalMs.toFixed(0)} ms (${r.steps} steps)`);
          this.save();
        });
      }
    }
    if (this.hasEncoderRow) {
      // before/after of encoder sharing on the whole image
      await this.stage('image_dreamcache_k1_unshared', async () => {
        const r = await this.image(1, 'dreamcache', false);
        this.res.image_dreamcache_k1_unshared = r;
        console.log(`image_dreamcache_k1_unshared: ${r.totalMs.toFixed(0)} ms (${r.steps} steps)`);
        this.save();
      });
    }
    if (a.graphCapture && a.ep === 'webgpu') await this.stage('dreamcache_b3_k1_graphcapture', () => this.graphCapture(1));
    if (a.profile) await this.profile();
  }
}

const args = parseArgs(process.argv.slice(2));
const ort = await loadOrt(args);
const bench = new OrtBench(args, ort);
try {
  await bench.run();
  // complete: every stage ran (run_on_box.sh skips a complete result); failed: how many stages
  // recorded an error instead of a timing.
  // A --profile-only run cut by the budget is worth repeating; a full run is not (the next
  // call's --profile-only run does the profile).
  bench.res.complete = !(args.profileOnly && bench.res.profile_unet_b2?.skipped?.startsWith('time budget'));
  bench.res.failedStages = bench.errors ?? 0;
} catch (e) {
  bench.res.error = String(e.stack ?? e).slice(0, 2000);
  console.error(e);
}
bench.save();
console.log(`wrote ${args.json}`);
// process.exit() stalls 30-40 s once ORT's wasm loaded; nothing is left to flush.
process.kill(process.pid, 'SIGKILL');
