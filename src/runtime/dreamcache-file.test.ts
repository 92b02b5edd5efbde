import { describe, expect, it } from 'vitest';
import type { SubjectCache } from './engine-types';
import { CacheFileError, type CacheFileErrorReason } from './errors';
import { roundToHalfInPlace } from './float16';
import { sha256 } from './hash';
import { gaussianNoise } from './rng';
import { decodeDreamcache, encodeDreamcache, DREAMCACHE_MAGIC } from './dreamcache-file';

const FP = 'a'.repeat(64);
const OTHER_FP = 'b'.repeat(64);
const LAYERS = [
  { name: 'mid', channels: 8, height: 2, width: 2 },
  { name: 'dec1', channels: 4, height: 4, width: 4 },
];
const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3, 4, 5]);

function makeCache(references = 1, half = true): SubjectCache {
  return {
    packName: 'dev-tiny',
    fingerprint: FP,
    references,
    layers: LAYERS.map((l, i) => {
      const n = references * l.height * l.width;
      const data = gaussianNoise(100 + i, n * l.channels);
      return { name: l.name, shape: [1, n, l.channels] as [number, number, number], data: half ? roundToHalfInPlace(data) : data };
    }),
  };
}

const opts = { expectedFingerprint: FP, expectedLayers: LAYERS };

async function reasonOf(bytes: Uint8Array, o: Parameters<typeof decodeDreamcache>[1] = opts): Promise<CacheFileErrorReason> {
  try {
    await decodeDreamcache(bytes, o);
  } catch (e) {
    expect(e).toBeInstanceOf(CacheFileError);
    expect((e as Error).message).toContain((e as CacheFileError).reason);
    return (e as CacheFileError).reason;
  }
  throw new Error('decode accepted a bad file');
}

/** Rewrites the header JSON (and the checksum) to test header-level checks past the checksum. */
async function withHeader(bytes: Uint8Array, edit: (h: Record<string, any>) => void, fixChecksum = true): Promise<Uint8Array> {
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  const hl = view.getUint32(12, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(16, 16 + hl)));
  edit(header);
  const hb = new TextEncoder().encode(JSON.stringify(header));
  const rest = bytes.subarray(16 + hl, bytes.length - 32);
  const out = new Uint8Array(16 + hb.length + rest.length + 32);
  out.set(bytes.subarray(0, 16));
  new DataView(out.buffer).setUint32(12, hb.length, true);
  out.set(hb, 16);
  out.set(rest, 16 + hb.length);
  const body = out.subarray(0, out.length - 32);
  out.set(fixChecksum ? await sha256(body) : bytes.subarray(bytes.length - 32), out.length - 32);
  return out;
}

describe('.dreamcache codec', () => {
  it('round-trips float16 caches bit-exactly (values already half-representable)', async () => {
    const cache = makeCache(2);
    const bytes = await encodeDreamcache({ cache, name: 'Corgi', thumbnailPng: PNG, createdAt: new Date('2026-01-02T03:04:05Z') });
    expect([...bytes.subarray(0, 8)]).toEqual([...DREAMCACHE_MAGIC]);
    const out = await decodeDreamcache(bytes, opts);
    expect(out.name).toBe('Corgi');
    expect(out.createdAt).toBe('2026-01-02T03:04:05.000Z');
    expect(out.dtype).toBe('float16');
    expect(out.thumbnailPng).toEqual(PNG);
    expect(out.cache.references).toBe(2);
    expect(out.cache.packName).toBe('dev-tiny');
    expect(out.cache.fingerprint).toBe(FP);
    out.cache.layers.forEach((l, i) => {
      expect(l.name).toBe(cache.layers[i].name);
      expect(l.shape).toEqual(cache.layers[i].shape);
      expect(new Uint32Array(l.data.buffer)).toEqual(new Uint32Array(cache.layers[i].data.buffer));
    });
    // re-encoding the decoded cache gives the same bytes
    const again = await encodeDreamcache({ cache: out.cache, name: out.name, thumbnailPng: out.thumbnailPng, createdAt: new Date(out.createdAt) });
    expect(again).toEqual(bytes);
  });

  it('round-trips arbitrary float32 caches bit-exactly with dtype float32', async () => {
    const cache = makeCache(1, false);
    const out = await decodeDreamcache(await encodeDreamcache({ cache, name: 'x', dtype: 'float32' }), opts);
    expect(out.thumbnailPng).toBeNull();
    out.cache.layers.forEach((l, i) => expect(new Uint32Array(l.data.buffer)).toEqual(new Uint32Array(cache.layers[i].data.buffer)));
  });

  it('refuses an oversized file before reading it', async () => {
    const bytes = await encodeDreamcache({ cache: makeCache(), name: 'x' });
    expect(await reasonOf(bytes, { ...opts, maxBytes: bytes.length - 1 })).toBe('oversized');
  });

  it('refuses truncated files at every cut', async () => {
    const bytes = await encodeDreamcache({ cache: makeCache(), name: 'x', thumbnailPng: PNG });
    for (const cut of [0, 3, 8, 15, 20, 100, bytes.length - 40, bytes.length - 1]) {
      const r = await reasonOf(bytes.slice(0, cut));
      expect(['truncated', 'malformed_header']).toContain(r);
      if (cut >= 16 + 1 && cut > 100) expect(r).toBe('truncated');
    }
    expect(await reasonOf(bytes.slice(0, 3))).toBe('truncated');
    expect(await reasonOf(bytes.slice(0, bytes.length - 1))).toBe('truncated');
  });

  it('refuses trailing bytes', async () => {
    const bytes = await encodeDreamcache({ cache: makeCache(), name: 'x' });
    const longer = new Uint8Array(bytes.length + 4);
    longer.set(bytes);
    expect(await reasonOf(longer)).toBe('size_mismatch');
  });

  it('refuses bad magic bytes', async () => {
    const bytes = await encodeDreamcache({ cache: makeCache(), name: 'x' });
    const b = bytes.slice();
    b[1] = 0x45;
    expect(await reasonOf(b)).toBe('bad_magic');
    expect(await reasonOf(new TextEncoder().encode('{"not":"a cache"}'))).toBe('bad_magic');
    expect(await reasonOf(new Uint8Array([1, 2]))).toBe('bad_magic');
  });

  it('refuses an unsupported version', async () => {
    const b = (await encodeDreamcache({ cache: makeCache(), name: 'x' })).slice();
    new DataView(b.buffer).setUint32(8, 3, true);
    expect(await reasonOf(b)).toBe('unsupported_version');
  });

  it('writes version 1 without a reference picture and version 2 with one, which round-trips', async () => {
    const cache = makeCache();
    const createdAt = new Date('2026-01-02T03:04:05Z');
    const v1 = await encodeDreamcache({ cache, name: 'Corgi', thumbnailPng: PNG, createdAt });
    expect(new DataView(v1.buffer).getUint32(8, true)).toBe(1);
    expect((await decodeDreamcache(v1, opts)).referencePng).toBeNull();
    const REF = new Uint8Array([...PNG, 9, 9, 9]);
    const v2 = await encodeDreamcache({ cache, name: 'Corgi', thumbnailPng: PNG, referencePng: REF, createdAt });
    expect(new DataView(v2.buffer).getUint32(8, true)).toBe(2);
    expect(v2.length).toBe(v1.length + REF.length + '"reference":{"bytes":16,"mimeType":"image/png"},'.length);
    const out = await decodeDreamcache(v2, opts);
    expect(out.thumbnailPng).toEqual(PNG);
    expect(out.referencePng).toEqual(REF);
    expect(new Uint32Array(out.cache.layers[1].data.buffer)).toEqual(new Uint32Array(cache.layers[1].data.buffer));
    const again = await encodeDreamcache({ cache: out.cache, name: out.name, thumbnailPng: PNG, referencePng: REF, createdAt });
    expect(again).toEqual(v2);
    // every cut and every flipped byte of the reference is caught
    expect(await reasonOf(v2.slice(0, v2.length - 33))).toBe('truncated');
    const flipped = v2.slice();
    flipped[v2.length - 32 - 2] ^= 0x01;
    expect(await reasonOf(flipped)).toBe('checksum');
  });

  it('refuses a reference that is not a PNG or is declared badly, and ignores the key in version 1', async () => {
    const notPng = await encodeDreamcache({ cache: makeCache(), name: 'x', referencePng: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]) });
    expect(await reasonOf(notPng)).toBe('malformed_header');
    const v2 = await encodeDreamcache({ cache: makeCache(), name: 'x', referencePng: PNG });
    expect(await reasonOf(await withHeader(v2, (h) => (h.reference.mimeType = 'image/jpeg')))).toBe('malformed_header');
    expect(await reasonOf(await withHeader(v2, (h) => (h.reference = { bytes: 0, mimeType: 'image/png' })))).toBe('malformed_header');
    // version 1 predates the key: a v1 file that happens to carry one is read without a reference
    const v1 = await encodeDreamcache({ cache: makeCache(), name: 'x' });
    const out = await decodeDreamcache(await withHeader(v1, (h) => (h.reference = { bytes: 13, mimeType: 'image/png' })), opts);
    expect(out.referencePng).toBeNull();
  });

  it('refuses tampered tensors, thumbnail, header and checksum', async () => {
    const bytes = await encodeDreamcache({ cache: makeCache(), name: 'x', thumbnailPng: PNG });
    const hl = new DataView(bytes.buffer).getUint32(12, true);
    for (const pos of [16 + hl + 5, bytes.length - 32 - 3, bytes.length - 1, bytes.length - 32]) {
      const b = bytes.slice();
      b[pos] ^= 0x01;
      expect(await reasonOf(b)).toBe('checksum');
    }
    // a header edit that still parses and keeps the sizes is caught by the checksum too
    expect(await reasonOf(await withHeader(bytes, (h) => (h.subject.name = 'y'), false))).toBe('checksum');
  });

  it('refuses malformed headers', async () => {
    const bytes = await encodeDreamcache({ cache: makeCache(), name: 'x' });
    const cases: ((h: Record<string, any>) => void)[] = [
      (h) => (h.format = 'other'),
      (h) => delete h.pack,
      (h) => (h.pack.fingerprint = 'xyz'),
      (h) => (h.dtype = 'int8'),
      (h) => (h.layers = []),
      (h) => (h.layers[0].shape = [2, 4, 8]),
      (h) => (h.layers[0].shape = [1, -4, 8]),
      (h) => (h.layers[1].name = 'mid'),
      (h) => (h.layers[0].name = 'encoder0'),
      (h) => (h.references = 0),
      (h) => (h.createdAt = 'yesterday'),
      (h) => (h.thumbnail = { bytes: -1, mimeType: 'image/png' }),
      (h) => (h.subject.name = 'n'.repeat(201)),
    ];
    for (const edit of cases) expect(await reasonOf(await withHeader(bytes, edit))).toBe('malformed_header');
    const b = bytes.slice();
    b[16] = 0x7b + 1; // header no longer JSON
    expect(await reasonOf(b)).toBe('malformed_header');
    const zero = bytes.slice();
    new DataView(zero.buffer).setUint32(12, 0, true);
    expect(await reasonOf(zero)).toBe('malformed_header');
  });

  it('refuses a thumbnail that is not a PNG', async () => {
    const bytes = await encodeDreamcache({ cache: makeCache(), name: 'x', thumbnailPng: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]) });
    expect(await reasonOf(bytes)).toBe('malformed_header');
  });

  it('refuses a cache from another pack', async () => {
    const bytes = await encodeDreamcache({ cache: makeCache(), name: 'x' });
    expect(await reasonOf(bytes, { ...opts, expectedFingerprint: OTHER_FP })).toBe('other_pack');
    expect(await reasonOf(bytes, { ...opts, expectedFingerprint: [OTHER_FP, 'c'.repeat(64)] })).toBe('other_pack');
  });

  it("reads another pack's file only when asked to, without checking its layers against the loaded pack's", async () => {
    const bytes = await encodeDreamcache({ cache: makeCache(), name: 'x', referencePng: PNG });
    const out = await decodeDreamcache(bytes, { ...opts, expectedFingerprint: OTHER_FP, expectedLayers: [LAYERS[0]], otherPacks: 'accept' });
    expect(out.samePack).toBe(false);
    expect(out.cache.fingerprint).toBe(FP);
    expect(out.referencePng).toEqual(PNG);
    expect((await decodeDreamcache(bytes, { ...opts, otherPacks: 'accept' })).samePack).toBe(true);
    // a damaged file of another pack is still refused
    const b = bytes.slice();
    b[40] ^= 0x01;
    expect(await reasonOf(b, { ...opts, expectedFingerprint: OTHER_FP, otherPacks: 'accept' })).not.toBe('other_pack');
  });

  it('reads a cache of an earlier pack the loaded one declares compatible', async () => {
    const bytes = await encodeDreamcache({ cache: makeCache(), name: 'x' });
    const out = await decodeDreamcache(bytes, { ...opts, expectedFingerprint: [OTHER_FP, FP] });
    expect(out.cache.fingerprint).toBe(FP);
  });

  it('refuses declared shapes that do not fit the pack layers', async () => {
    const bytes = await encodeDreamcache({ cache: makeCache(), name: 'x' });
    expect(await reasonOf(bytes, { ...opts, expectedLayers: [LAYERS[0]] })).toBe('layer_mismatch');
    expect(await reasonOf(bytes, { ...opts, expectedLayers: [LAYERS[0], { ...LAYERS[1], channels: 5 }] })).toBe('layer_mismatch');
    expect(await reasonOf(bytes, { ...opts, expectedLayers: [LAYERS[0], { ...LAYERS[1], name: 'dec3' }] })).toBe('layer_mismatch');
    // a header claiming 2 references while the tensors hold 1
    const wrongRefs = await withHeader(bytes, (h) => (h.references = 2));
    expect(await reasonOf(wrongRefs)).toBe('layer_mismatch');
  });

  it('refuses non-finite values', async () => {
    const cache = makeCache();
    cache.layers[0].data[3] = NaN;
    expect(await reasonOf(await encodeDreamcache({ cache, name: 'x' }))).toBe('bad_values');
  });

  it('will not write a header it would refuse', async () => {
    const cache = makeCache();
    await expect(encodeDreamcache({ cache: { ...cache, fingerprint: 'nope' }, name: 'x' })).rejects.toBeInstanceOf(CacheFileError);
  });
});

describe('.dreamcache size at SD 1.5 scale', () => {
  // The five cached layers of SD 1.5 (docs/model-pack.md): mid 8²×1280, then every second decoder
  // transformer 16²×1280, 32²×640 twice, 64²×320 — 3,031,040 values per reference.
  const SD15 = [
    { name: 'mid', channels: 1280, height: 8, width: 8 },
    { name: 'dec1', channels: 1280, height: 16, width: 16 },
    { name: 'dec3', channels: 640, height: 32, width: 32 },
    { name: 'dec5', channels: 640, height: 32, width: 32 },
    { name: 'dec7', channels: 320, height: 64, width: 64 },
  ];

  it('one reference in fp16 is at most 6.2 MB, with a thumbnail, and decodes back exactly', async () => {
    const cache: SubjectCache = {
      packName: 'sd15',
      fingerprint: FP,
      references: 1,
      layers: SD15.map((l, i) => ({
        name: l.name,
        shape: [1, l.height * l.width, l.channels] as [number, number, number],
        data: roundToHalfInPlace(gaussianNoise(7 + i, l.height * l.width * l.channels)),
      })),
    };
    const bytes = await encodeDreamcache({ cache, name: 'my mug', thumbnailPng: PNG });
    expect(bytes.length).toBeLessThanOrEqual(6.2e6);
    expect(bytes.length).toBeGreaterThan(3_031_040 * 2);
    const out = await decodeDreamcache(bytes, { expectedFingerprint: FP, expectedLayers: SD15 });
    out.cache.layers.forEach((l, i) => expect(l.data).toEqual(cache.layers[i].data));
  });
});
