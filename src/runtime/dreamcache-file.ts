// The `.dreamcache` file: a subject cache, its pack fingerprint, a thumbnail, the reference picture
// (version 2) and a checksum. Layout and rules: docs/cache-format.md. Decoding validates everything
// before returning.
import type { SubjectCache } from './engine-types';
import { CacheFileError } from './errors';
import { decodeHalf, encodeHalf } from './float16';
import { sha256, toHex } from './hash';

export const DREAMCACHE_MAGIC = new Uint8Array([0x89, 0x44, 0x43, 0x41, 0x43, 0x48, 0x45, 0x0a]); // \x89DCACHE\n
/** Written when the file carries its reference picture; files without one stay version 1. */
export const DREAMCACHE_VERSION = 2;
const READABLE_VERSIONS = [1, DREAMCACHE_VERSION];
export const DREAMCACHE_EXTENSION = '.dreamcache';
export const DREAMCACHE_MIME = 'application/x-dreamcache';
/** Default refusal size: far above a 4-reference SD 1.5 cache in float32 (~49 MB). */
export const DEFAULT_MAX_BYTES = 128 * 1024 * 1024;

const PREFIX = 16; // magic 8 + version u32 + header length u32
const CHECKSUM = 32;
const MAX_HEADER = 1 << 20;
const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

export type DreamcacheDtype = 'float16' | 'float32';

export interface DreamcacheHeader {
  format: 'dreamcache';
  pack: { name: string; fingerprint: string };
  subject: { name: string };
  createdAt: string;
  references: number;
  dtype: DreamcacheDtype;
  layers: { name: string; shape: [1, number, number] }[];
  thumbnail: { bytes: number; mimeType: 'image/png' };
  /** Version 2: the subject on white at the pack's size, what a rebuild for another model starts from. */
  reference?: { bytes: number; mimeType: 'image/png' };
}

export interface EncodeDreamcacheInput {
  cache: SubjectCache;
  name: string;
  thumbnailPng?: Uint8Array | null;
  referencePng?: Uint8Array | null;
  dtype?: DreamcacheDtype;
  createdAt?: Date;
}

export interface DecodedDreamcache {
  cache: SubjectCache;
  name: string;
  thumbnailPng: Uint8Array | null;
  referencePng: Uint8Array | null;
  createdAt: string;
  dtype: DreamcacheDtype;
  /** False only with `otherPacks: 'accept'`, for a file of a pack not in `expectedFingerprint`. */
  samePack: boolean;
}

export interface ExpectedLayer {
  name: string;
  channels: number;
  height: number;
  width: number;
}

export interface DecodeDreamcacheOptions {
  /**
   * The loaded pack's fingerprint, or every fingerprint it uses caches of (`acceptedFingerprints`);
   * a file from another pack is refused with reason 'other_pack'.
   */
  expectedFingerprint: string | readonly string[];
  /** The loaded pack's `cache.layers`; checked against the declared shapes when given. */
  expectedLayers?: readonly ExpectedLayer[];
  maxBytes?: number;
  /**
   * 'accept': a sound file of another pack is returned (`samePack` false, its layers not checked
   * against `expectedLayers`) instead of refused, for an app that rebuilds it from its picture.
   */
  otherPacks?: 'refuse' | 'accept';
}

const isLE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export async function encodeDreamcache(input: EncodeDreamcacheInput): Promise<Uint8Array> {
  const { cache } = input;
  const dtype = input.dtype ?? 'float16';
  const thumb = input.thumbnailPng ?? new Uint8Array(0);
  const ref = input.referencePng ?? new Uint8Array(0);
  const header: DreamcacheHeader = {
    format: 'dreamcache',
    pack: { name: cache.packName, fingerprint: cache.fingerprint },
    subject: { name: input.name },
    createdAt: (input.createdAt ?? new Date()).toISOString(),
    references: cache.references,
    dtype,
    layers: cache.layers.map((l) => ({ name: l.name, shape: [1, l.shape[1], l.shape[2]] })),
    thumbnail: { bytes: thumb.byteLength, mimeType: 'image/png' },
    ...(ref.byteLength > 0 ? { reference: { bytes: ref.byteLength, mimeType: 'image/png' as const } } : {}),
  };
  const version = ref.byteLength > 0 ? DREAMCACHE_VERSION : 1;
  checkHeader(header, version); // never write a file we would refuse to read
  cache.layers.forEach((l) => {
    if (l.data.length !== l.shape[1] * l.shape[2]) throw new RangeError(`layer ${l.name}: data length ≠ shape`);
  });
  const headerBytes = new TextEncoder().encode(JSON.stringify(header));
  const width = dtype === 'float16' ? 2 : 4;
  const tensorBytes = cache.layers.reduce((s, l) => s + l.data.length * width, 0);
  const total = PREFIX + headerBytes.length + tensorBytes + thumb.byteLength + ref.byteLength + CHECKSUM;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  out.set(DREAMCACHE_MAGIC, 0);
  view.setUint32(8, version, true);
  view.setUint32(12, headerBytes.length, true);
  out.set(headerBytes, PREFIX);
  let offset = PREFIX + headerBytes.length;
  for (const l of cache.layers) {
    if (dtype === 'float16') {
      const bits = encodeHalf(l.data);
      if (isLE) out.set(new Uint8Array(bits.buffer), offset);
      else for (let i = 0; i < bits.length; i++) view.setUint16(offset + 2 * i, bits[i], true);
    } else if (isLE) {
      out.set(new Uint8Array(l.data.buffer, l.data.byteOffset, l.data.byteLength), offset);
    } else {
      for (let i = 0; i < l.data.length; i++) view.setFloat32(offset + 4 * i, l.data[i], true);
    }
    offset += l.data.length * width;
  }
  out.set(thumb, offset);
  offset += thumb.byteLength;
  out.set(ref, offset);
  offset += ref.byteLength;
  out.set(await sha256(out.subarray(0, offset)), offset);
  return out;
}

function bad(reason: ConstructorParameters<typeof CacheFileError>[0], message: string): never {
  throw new CacheFileError(reason, message);
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Schema check of a parsed header; throws CacheFileError('malformed_header'). */
function checkHeader(h: unknown, version: number): asserts h is DreamcacheHeader {
  const m: (why: string) => never = (why) => bad('malformed_header', `Not a valid cache file: header ${why}`);
  if (!isObj(h)) m('is not a JSON object');
  if (h.format !== 'dreamcache') m('format must be "dreamcache"');
  if (!isObj(h.pack) || typeof h.pack.name !== 'string' || typeof h.pack.fingerprint !== 'string' || !/^[0-9a-f]{64}$/.test(h.pack.fingerprint)) {
    m('pack must name the pack and its 64-hex fingerprint');
  }
  if (!isObj(h.subject) || typeof h.subject.name !== 'string' || h.subject.name.length > 200) m('subject.name must be a string of at most 200 characters');
  if (typeof h.createdAt !== 'string' || Number.isNaN(Date.parse(h.createdAt))) m('createdAt must be an ISO date');
  if (!Number.isInteger(h.references) || (h.references as number) < 1 || (h.references as number) > 64) m('references must be an integer in [1, 64]');
  if (h.dtype !== 'float16' && h.dtype !== 'float32') m('dtype must be "float16" or "float32"');
  if (!Array.isArray(h.layers) || h.layers.length === 0 || h.layers.length > 64) m('layers must be a non-empty array');
  const names = new Set<string>();
  for (const l of h.layers as unknown[]) {
    if (!isObj(l) || typeof l.name !== 'string' || !/^(mid|dec[0-9]+)$/.test(l.name)) m('layer names must match ^(mid|dec[0-9]+)$');
    if (names.has(l.name as string)) m(`layer "${String(l.name)}" repeats`);
    names.add(l.name as string);
    const s = l.shape;
    if (!Array.isArray(s) || s.length !== 3 || s[0] !== 1 || !s.every((d) => Number.isInteger(d) && d > 0) || s[1] * s[2] > 1 << 28) {
      m(`layer "${String(l.name)}" shape must be [1, N, C] with positive integers`);
    }
  }
  if (!isObj(h.thumbnail) || !Number.isInteger(h.thumbnail.bytes) || (h.thumbnail.bytes as number) < 0 || h.thumbnail.mimeType !== 'image/png') {
    m('thumbnail must give a byte count and mimeType "image/png"');
  }
  // Version 1 ignores unknown keys, so a "reference" there is not part of the file.
  if (version === 1) delete h.reference;
  else if (h.reference !== undefined && (!isObj(h.reference) || !Number.isInteger(h.reference.bytes) || (h.reference.bytes as number) < 1 || h.reference.mimeType !== 'image/png')) {
    m('reference must give a positive byte count and mimeType "image/png"');
  }
}

/** The PNG of `bytes` bytes at `offset`, or null for 0 bytes; refused unless it starts with the PNG signature. */
function pngAt(bytes: Uint8Array, offset: number, length: number, what: string): Uint8Array | null {
  if (length === 0) return null;
  const png = bytes.slice(offset, offset + length);
  if (length < 8 || !PNG_SIGNATURE.every((b, i) => png[i] === b)) bad('malformed_header', `Not a valid cache file: the ${what} is not a PNG`);
  return png;
}

export async function decodeDreamcache(bytes: Uint8Array, options: DecodeDreamcacheOptions): Promise<DecodedDreamcache> {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  if (bytes.byteLength > maxBytes) bad('oversized', `Cache file is too large: ${bytes.byteLength} bytes, the limit is ${maxBytes}`);
  if (bytes.byteLength < PREFIX) {
    // too short to hold even the fixed prefix: a magic mismatch is the more useful message when it shows
    if (!DREAMCACHE_MAGIC.subarray(0, bytes.byteLength).every((b, i) => bytes[i] === b)) bad('bad_magic', 'Not a .dreamcache file: wrong magic bytes');
    bad('truncated', `Cache file is truncated: ${bytes.byteLength} bytes`);
  }
  for (let i = 0; i < DREAMCACHE_MAGIC.length; i++) {
    if (bytes[i] !== DREAMCACHE_MAGIC[i]) bad('bad_magic', 'Not a .dreamcache file: wrong magic bytes');
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(8, true);
  if (!READABLE_VERSIONS.includes(version)) {
    bad('unsupported_version', `Unsupported cache file version ${version} (this app reads versions ${READABLE_VERSIONS.join(' and ')}); a newer app made it`);
  }
  const headerLength = view.getUint32(12, true);
  if (headerLength === 0 || headerLength > MAX_HEADER) bad('malformed_header', `Not a valid cache file: header length ${headerLength}`);
  if (PREFIX + headerLength + CHECKSUM > bytes.byteLength) bad('truncated', 'Cache file is truncated: it ends inside the header');
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(PREFIX, PREFIX + headerLength)));
  } catch {
    bad('malformed_header', 'Not a valid cache file: the header is not UTF-8 JSON');
  }
  checkHeader(header, version);
  const width = header.dtype === 'float16' ? 2 : 4;
  const tensorBytes = header.layers.reduce((s, l) => s + l.shape[1] * l.shape[2] * width, 0);
  const referenceBytes = header.reference?.bytes ?? 0;
  const expected = PREFIX + headerLength + tensorBytes + header.thumbnail.bytes + referenceBytes + CHECKSUM;
  if (bytes.byteLength < expected) bad('truncated', `Cache file is truncated: ${bytes.byteLength} of ${expected} bytes`);
  if (bytes.byteLength > expected) bad('size_mismatch', `Cache file has ${bytes.byteLength - expected} unexpected trailing bytes`);

  const body = bytes.subarray(0, expected - CHECKSUM);
  const digest = await sha256(body);
  const stored = bytes.subarray(expected - CHECKSUM);
  if (toHex(digest) !== toHex(stored)) bad('checksum', 'Cache file is damaged or was modified: checksum mismatch');

  const accepted = typeof options.expectedFingerprint === 'string' ? [options.expectedFingerprint] : options.expectedFingerprint;
  const samePack = accepted.includes(header.pack.fingerprint);
  if (!samePack && options.otherPacks !== 'accept') {
    bad('other_pack', `This cache was made by another model pack ("${header.pack.name}"); rebuild it with the loaded pack`);
  }
  if (options.expectedLayers && samePack) {
    const exp = options.expectedLayers;
    const got = header.layers;
    if (exp.length !== got.length) bad('layer_mismatch', `Cache has ${got.length} layers, the pack caches ${exp.length}`);
    exp.forEach((e, i) => {
      const g = got[i];
      const hw = e.height * e.width;
      if (g.name !== e.name || g.shape[2] !== e.channels || g.shape[1] !== header.references * hw) {
        bad('layer_mismatch', `Cache layer ${i} is ${g.name} [1, ${g.shape[1]}, ${g.shape[2]}], the pack expects ${e.name} [1, ${header.references * hw}, ${e.channels}]`);
      }
    });
  }

  let offset = PREFIX + headerLength;
  const layers = header.layers.map((l) => {
    const n = l.shape[1] * l.shape[2];
    let data: Float32Array;
    if (width === 2) {
      const bits = new Uint16Array(n);
      for (let i = 0; i < n; i++) bits[i] = view.getUint16(offset + 2 * i, true);
      data = decodeHalf(bits);
    } else {
      data = new Float32Array(n);
      for (let i = 0; i < n; i++) data[i] = view.getFloat32(offset + 4 * i, true);
    }
    for (let i = 0; i < n; i++) if (!Number.isFinite(data[i])) bad('bad_values', `Cache layer ${l.name} holds non-finite values`);
    offset += n * width;
    return { name: l.name, shape: [1, l.shape[1], l.shape[2]] as [number, number, number], data };
  });
  const thumbnailPng = pngAt(bytes, offset, header.thumbnail.bytes, 'thumbnail');
  const referencePng = pngAt(bytes, offset + header.thumbnail.bytes, referenceBytes, 'reference picture');
  return {
    cache: { packName: header.pack.name, fingerprint: header.pack.fingerprint, references: header.references, layers },
    name: header.subject.name,
    thumbnailPng,
    referencePng,
    createdAt: header.createdAt,
    dtype: header.dtype,
    samePack,
  };
}
