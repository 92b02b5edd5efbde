import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createEngine } from './engine';
import { PackError } from './errors';
import { sha256Hex } from './hash';
import { packFingerprint, readVerifiedFile } from './pack';
import { createBlobSource, hashBlob, listedBlobs, readBlobManifest, verifyPackFiles, WHOLE_HASH_LIMIT } from './pack-files';
import { Sha256 } from './sha256-stream';

const DEV = join(__dirname, '../../public/models/dev-tiny');

function devBlobs(): Record<string, Blob> {
  return Object.fromEntries(readdirSync(DEV).map((f) => [f, new Blob([readFileSync(join(DEV, f))])]));
}

function withManifest(files: Record<string, Blob>, edit: (m: any) => void): Record<string, Blob> {
  const m = JSON.parse(readFileSync(join(DEV, 'manifest.json'), 'utf8'));
  edit(m);
  return { ...files, 'manifest.json': new Blob([JSON.stringify(m)]) };
}

describe('Sha256 (streaming)', () => {
  it('matches WebCrypto for lengths around block boundaries, fed in odd chunks', async () => {
    for (const n of [0, 1, 55, 56, 63, 64, 65, 119, 120, 1000, 70_001]) {
      const bytes = new Uint8Array(n).map((_, i) => (i * 31 + 7) & 255);
      const h = new Sha256();
      for (let i = 0; i < n; i += 37) h.update(bytes.subarray(i, i + 37));
      expect(h.hex(), `length ${n}`).toBe(await sha256Hex(bytes));
    }
  });
  it('streams Blobs above the one-shot limit', async () => {
    expect(WHOLE_HASH_LIMIT).toBe(256 * 1024 * 1024);
    const big = new Uint8Array(3_000_000).map((_, i) => (i * 5) & 255);
    const seen: number[] = [];
    const parts = [big.subarray(0, 1_000_003), big.subarray(1_000_003)];
    // a 1 MB one-shot limit sends these 3 MB through the streaming hash
    expect(await hashBlob(new Blob(parts), (n) => seen.push(n), 1 << 20)).toBe(await sha256Hex(big));
    expect(seen.at(-1)).toBe(big.length);
  });
});

describe('blob source', () => {
  it('reads bytes with progress and names a missing file', async () => {
    const payload = new Uint8Array(200_000).map((_, i) => (i * 13) & 255);
    const src = createBlobSource({ 'a.bin': new Blob([payload]) }, 'stored:test');
    const seen: number[] = [];
    expect(await src.read('a.bin', (n) => seen.push(n))).toEqual(payload);
    expect(seen.at(-1)).toBe(payload.length);
    expect(await src.read('a.bin')).toEqual(payload);
    await expect(src.read('b.bin')).rejects.toThrow(new PackError('missing file b.bin'));
    // inherited object keys are not files
    await expect(src.read('constructor')).rejects.toThrow(/missing file constructor/);
  });
  it('verified reads of the dev pack agree with the manifest', async () => {
    const files = devBlobs();
    const manifest = await readBlobManifest(files);
    const bytes = await readVerifiedFile(createBlobSource(files, 'x'), manifest, 'unet.onnx');
    expect(bytes.length).toBe(manifest.files.find((f) => f.path === 'unet.onnx')!.bytes);
  });
});

describe('verifyPackFiles', () => {
  it('accepts the dev pack, with progress up to the total', async () => {
    const files = devBlobs();
    const manifest = await readBlobManifest(files);
    const seen: { path: string; loaded: number; total: number }[] = [];
    await verifyPackFiles(manifest, files, (p) => seen.push(p));
    const total = manifest.files.reduce((s, f) => s + f.bytes, 0);
    expect(seen.at(-1)).toEqual({ path: '', loaded: total, total });
    expect(new Set(seen.map((p) => p.path))).toEqual(new Set(['', ...manifest.files.map((f) => f.path)]));
    expect(Object.keys(listedBlobs(manifest, { ...files, '.DS_Store': new Blob(['x']) })).sort()).toEqual(
      ['manifest.json', ...manifest.files.map((f) => f.path)].sort(),
    );
  });

  // Each failure names the file or the rule.
  const cases: [string, (f: Record<string, Blob>) => Record<string, Blob>, string | RegExp][] = [
    ['no manifest', ({ 'manifest.json': _m, ...rest }) => rest, 'missing file manifest.json'],
    ['manifest not JSON', (f) => ({ ...f, 'manifest.json': new Blob(['{oops']) }), /Cannot read manifest\.json: .*JSON/],
    [
      'bad layer name',
      (f) => withManifest(f, (m) => (m.cache.layers[0].name = 'up3')),
      'Invalid pack manifest: cache layer name "up3" must match ^(mid|dec[0-9]+)$',
    ],
    ['unlisted graph', (f) => withManifest(f, (m) => (m.files = m.files.filter((x: any) => x.path !== 'unet.onnx'))), /graphs\.unet\.fp32 "unet\.onnx" must be listed in files/],
    ['missing file', ({ 'vae_decoder.onnx': _v, ...rest }) => rest, 'missing file vae_decoder.onnx'],
    ['wrong size', (f) => ({ ...f, 'segmenter.onnx': f['segmenter.onnx'].slice(0, 100) }), 'segmenter.onnx: 100 bytes, the manifest says 83547'],
    [
      'one byte changed',
      (f) => {
        const bytes = readFileSync(join(DEV, 'unet.onnx'));
        bytes[bytes.length >> 1] ^= 1;
        return { ...f, 'unet.onnx': new Blob([bytes]) };
      },
      'unet.onnx: sha256 differs from the manifest',
    ],
  ];
  for (const [label, breakIt, expected] of cases) {
    it(`refuses: ${label}`, async () => {
      const files = breakIt(devBlobs());
      const run = async () => verifyPackFiles(await readBlobManifest(files), files);
      const err = await run().then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(PackError);
      if (typeof expected === 'string') expect((err as Error).message).toBe(expected);
      else expect((err as Error).message).toMatch(expected);
    });
  }

  it('names the first missing file before checking any hash', async () => {
    const { 'text_encoder.onnx': _a, 'vae_decoder.onnx': _b, ...rest } = devBlobs();
    const manifest = await readBlobManifest(devBlobs());
    const first = manifest.files.map((f) => f.path).find((p) => p === 'text_encoder.onnx' || p === 'vae_decoder.onnx');
    const hashed: string[] = [];
    await expect(verifyPackFiles(manifest, rest, (p) => hashed.push(p.path))).rejects.toThrow(`missing file ${first}`);
    expect(hashed).toEqual([]);
  });
});

describe('engine over stored Blobs', () => {
  it('loads the dev pack from Blobs with the same fingerprint, and generates', async () => {
    const files = devBlobs();
    const engine = createEngine();
    try {
      const info = await engine.load({ packUrl: 'stored:dev-tiny', files, backend: 'wasm' });
      expect(info.fingerprint).toBe(await packFingerprint(await readBlobManifest(files)));
      const image = await engine.generate({
        prompt: 'a red ball',
        steps: 1,
        seed: 1,
        textScale: 7.5,
        imageScale: 1,
        scheduler: 'ddim',
        guidance: 'combined',
        cache: null,
        previewEvery: 0,
      });
      expect([image.width, image.height]).toEqual([128, 128]);
    } finally {
      await engine.dispose();
    }
  });
});
