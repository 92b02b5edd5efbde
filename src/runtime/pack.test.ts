import { describe, expect, it } from 'vitest';
import { PackError } from './errors';
import { sha256Hex, utf8 } from './hash';
import { acceptedFingerprints, layerSignature, packFingerprint, readVerifiedFile, usesCacheOf, validateManifest, type PackManifest } from './pack';
import type { PackSource } from './pack-source';

const SHA = (c: string) => c.repeat(64);

function goodManifest(): Record<string, any> {
  return {
    format: 'dreamcache-pack',
    formatVersion: 1,
    name: 'dev-tiny',
    version: '0.1.0',
    description: 'test',
    license: 'MIT',
    trained: false,
    image: { size: 128 },
    latent: { channels: 4, downsample: 8, scalingFactor: 0.18215 },
    scheduler: { numTrainTimesteps: 1000, betaSchedule: 'scaled_linear', betaStart: 0.00085, betaEnd: 0.012, predictionType: 'epsilon' },
    tokenizer: { file: 'tokenizer.json', maxLength: 77, padTokenId: 0, bosTokenId: 1, eosTokenId: 2 },
    textEncoder: { hiddenSize: 64 },
    unet: { parameters: 123, adapterParameters: 45 },
    cache: {
      timestep: 1,
      layers: [
        { name: 'mid', module: 'mid_block.attentions.0', channels: 128, height: 4, width: 4 },
        { name: 'dec1', module: 'up_blocks.1.attentions.1', channels: 64, height: 8, width: 8 },
      ],
    },
    guidance: { textScale: 7.5, imageScale: 1.0 },
    segmenter: { inputSize: 128 },
    graphs: {
      text_encoder: { fp32: 'text_encoder.onnx' },
      vae_encoder: { fp32: 'vae_encoder.onnx' },
      vae_decoder: { fp32: 'vae_decoder.onnx' },
      unet: { fp32: 'unet.onnx', fp16: 'unet.fp16.onnx' },
      segmenter: { fp32: 'segmenter.onnx' },
    },
    files: [
      { path: 'tokenizer.json', bytes: 10, sha256: SHA('1') },
      { path: 'text_encoder.onnx', bytes: 10, sha256: SHA('2') },
      { path: 'vae_encoder.onnx', bytes: 10, sha256: SHA('3') },
      { path: 'vae_decoder.onnx', bytes: 10, sha256: SHA('4') },
      { path: 'unet.onnx', bytes: 10, sha256: SHA('5') },
      { path: 'unet.fp16.onnx', bytes: 10, sha256: SHA('6') },
      { path: 'segmenter.onnx', bytes: 10, sha256: SHA('7') },
    ],
  };
}

// Each rule of docs/model-pack.md, broken once; the message must name it.
const broken: [string, (m: Record<string, any>) => void, RegExp][] = [
  ['not an object', (m) => {
    for (const k of Object.keys(m)) delete m[k];
  }, /format/],
  ['format', (m) => (m.format = 'other'), /format must be "dreamcache-pack"/],
  ['compatible fingerprints', (m) => (m.cache.compatibleFingerprints = ['not-a-sha']), /cache.compatibleFingerprints/],
  ['formatVersion', (m) => (m.formatVersion = 2), /formatVersion must be 1/],
  ['name pattern', (m) => (m.name = 'Dev Tiny'), /name "Dev Tiny" must match/],
  ['name leading dot', (m) => (m.name = '.dev'), /must match/],
  ['trained boolean', (m) => (m.trained = 'no'), /trained must be a boolean/],
  ['size divisible', (m) => (m.image.size = 100), /divisible by latent.downsample/],
  ['scaling factor', (m) => (m.latent.scalingFactor = 0), /scalingFactor must be > 0/],
  ['beta schedule', (m) => (m.scheduler.betaSchedule = 'cosine'), /betaSchedule/],
  ['prediction type', (m) => (m.scheduler.predictionType = 'v_prediction'), /predictionType must be "epsilon"/],
  ['image scale ramp end a number', (m) => (m.guidance.imageScaleEnd = '6'), /guidance.imageScaleEnd must be a finite number/],
  ['self views known', (m) => (m.cache.selfViews = ['flip', 'zoom']), /cache.selfViews must be an array of "flip"/],
  ['self views an array', (m) => (m.cache.selfViews = 'flip'), /cache.selfViews must be an array/],
  ['self views unique', (m) => (m.cache.selfViews = ['flip', 'flip']), /cache.selfViews must not repeat/],
  ['cache timestep integer', (m) => (m.cache.timestep = 1.5), /cache.timestep/],
  ['cache timestep range', (m) => (m.cache.timestep = 1000), /cache.timestep/],
  ['cache layers non-empty', (m) => (m.cache.layers = []), /non-empty/],
  ['layer name pattern', (m) => (m.cache.layers[1].name = 'up1'), /must match \^\(mid\|dec/],
  ['layer names unique', (m) => (m.cache.layers[1].name = 'mid'), /unique/],
  ['layer sizes positive', (m) => (m.cache.layers[0].channels = 0), /positive integer/],
  ['layer sizes integer', (m) => (m.cache.layers[0].height = 2.5), /positive integer/],
  ['fp32 required', (m) => delete m.graphs.vae_decoder.fp32, /vae_decoder must have an fp32 file/],
  ['role present', (m) => delete m.graphs.segmenter, /graphs.segmenter must be present/],
  ['graph file listed', (m) => (m.graphs.unet.fp16 = 'missing.onnx'), /must be listed in files/],
  ['external data listed', (m) => (m.graphs.unet.fp32Data = 'unet.onnx.data'), /fp32Data .* must be listed/],
  ['tokenizer listed', (m) => (m.tokenizer.file = 'tok.json'), /tokenizer.file .* must be listed/],
  ['files listed once', (m) => m.files.push({ ...m.files[0] }), /once/],
  ['manifest not listed', (m) => m.files.push({ path: 'manifest.json', bytes: 1, sha256: SHA('8') }), /manifest.json/],
  ['sha lowercase hex', (m) => (m.files[0].sha256 = SHA('A')), /lowercase hex/],
  ['bytes integer', (m) => (m.files[0].bytes = -1), /non-negative integer/],
  ['plain path slash', (m) => (m.files[0].path = 'a/tokenizer.json'), /plain file name/],
  ['plain path dotdot', (m) => (m.files[0].path = '..tokenizer.json'), /plain file name/],
];

describe('validateManifest', () => {
  it('accepts the contract example', () => {
    const m = validateManifest(goodManifest());
    expect(m.name).toBe('dev-tiny');
  });
  it('accepts an image scale ramp (guidance.imageScaleEnd)', () => {
    const m = goodManifest();
    m.guidance = { textScale: 7.5, imageScale: 12, imageScaleEnd: 6 };
    expect(validateManifest(m).guidance.imageScaleEnd).toBe(6);
  });
  it('accepts the self views a cache is made with (cache.selfViews)', () => {
    const m = goodManifest();
    m.cache.selfViews = ['flip'];
    expect(validateManifest(m).cache.selfViews).toEqual(['flip']);
  });
  it('accepts external data listed in files', () => {
    const m = goodManifest();
    m.graphs.unet.fp32Data = 'unet.onnx.data';
    m.files.push({ path: 'unet.onnx.data', bytes: 5, sha256: SHA('9') });
    expect(() => validateManifest(m)).not.toThrow();
  });
  for (const [rule, edit, message] of broken) {
    it(`refuses: ${rule}`, () => {
      const m = goodManifest();
      edit(m);
      expect(() => validateManifest(m)).toThrow(PackError);
      expect(() => validateManifest(m)).toThrow(message);
    });
  }
});

describe('packFingerprint', () => {
  it('is sha256 of name, version, unet sha and layers, as the contract defines', async () => {
    const m = validateManifest(goodManifest());
    expect(layerSignature(m.cache.layers)).toBe('mid:128:4:4,dec1:64:8:8');
    const expected = await sha256Hex(utf8(`dev-tiny\n0.1.0\n${SHA('5')}\nmid:128:4:4,dec1:64:8:8`));
    expect(await packFingerprint(m)).toBe(expected);
    // the same string hashed by Python's hashlib, independently of this code
    expect(expected).toBe('d1d2c47eca4ab4d07e63611be6deaf43637bef4f0a6f664ca614cfed5afd2dc5');
  });
  it('changes with the unet, the version or the layers', async () => {
    const base = await packFingerprint(validateManifest(goodManifest()));
    const a = goodManifest();
    a.files[4].sha256 = SHA('0');
    const b = goodManifest();
    b.version = '0.1.1';
    const c = goodManifest();
    c.cache.layers[0].channels = 64;
    for (const m of [a, b, c]) expect(await packFingerprint(validateManifest(m))).not.toBe(base);
  });
});

describe('usesCacheOf', () => {
  it("uses the pack's own caches and those of the earlier packs it declares compatible, no others", async () => {
    const m = validateManifest(goodManifest());
    const own = { manifest: m, fingerprint: await packFingerprint(m) };
    expect(acceptedFingerprints(own)).toEqual([own.fingerprint]);
    expect(usesCacheOf(own, own.fingerprint)).toBe(true);
    expect(usesCacheOf(own, SHA('c'))).toBe(false);
    expect(usesCacheOf(own, undefined)).toBe(false);
    expect(usesCacheOf(null, own.fingerprint)).toBe(false);
    const g = goodManifest();
    g.cache.compatibleFingerprints = [SHA('c'), SHA('d')];
    const next = { manifest: validateManifest(g), fingerprint: own.fingerprint };
    expect(acceptedFingerprints(next)).toEqual([own.fingerprint, SHA('c'), SHA('d')]);
    expect(usesCacheOf(next, SHA('d'))).toBe(true);
    expect(usesCacheOf(next, SHA('e'))).toBe(false);
  });
});

describe('readVerifiedFile', () => {
  const content = utf8('hello pack');
  const source: PackSource = { location: 'mem', read: async () => content };
  it('returns bytes that match size and sha256', async () => {
    const m = goodManifest();
    m.files[0] = { path: 'tokenizer.json', bytes: content.length, sha256: await sha256Hex(content) };
    expect(await readVerifiedFile(source, validateManifest(m) as PackManifest, 'tokenizer.json')).toEqual(content);
  });
  it('refuses a wrong size or hash', async () => {
    const m = goodManifest();
    m.files[0] = { path: 'tokenizer.json', bytes: content.length + 1, sha256: await sha256Hex(content) };
    await expect(readVerifiedFile(source, validateManifest(m), 'tokenizer.json')).rejects.toThrow(/bytes/);
    m.files[0] = { path: 'tokenizer.json', bytes: content.length, sha256: SHA('c') };
    await expect(readVerifiedFile(source, validateManifest(m), 'tokenizer.json')).rejects.toThrow(/corrupt/);
  });
});
