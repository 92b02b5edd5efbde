// The pack contract of docs/model-pack.md as types, its validator, the pack fingerprint,
// and verified loading of the files a manifest lists.
import { PackError } from './errors';
import { sha256Hex, utf8 } from './hash';
import type { PackSource } from './pack-source';

export type GraphRole = 'text_encoder' | 'vae_encoder' | 'vae_decoder' | 'unet' | 'segmenter';
export const GRAPH_ROLES: readonly GraphRole[] = ['text_encoder', 'vae_encoder', 'vae_decoder', 'unet', 'segmenter'];

export interface GraphFiles {
  fp32: string;
  fp32Data?: string;
  fp16?: string;
  fp16Data?: string;
}

export interface PackLayer {
  name: string;
  module: string;
  channels: number;
  height: number;
  width: number;
}

export interface PackFileEntry {
  path: string;
  bytes: number;
  sha256: string;
  /** ONNX graphs: bytes of the largest weight as the runtime holds it (one GPU buffer each). */
  largestTensorBytes?: number;
}

export interface PackManifest {
  format: 'dreamcache-pack';
  formatVersion: 1;
  name: string;
  version: string;
  description: string;
  license: string;
  trained: boolean;
  image: { size: number };
  latent: { channels: number; downsample: number; scalingFactor: number };
  scheduler: {
    numTrainTimesteps: number;
    betaSchedule: 'linear' | 'scaled_linear';
    betaStart: number;
    betaEnd: number;
    predictionType: 'epsilon';
  };
  tokenizer: { file: string; maxLength: number; padTokenId: number; bosTokenId: number; eosTokenId: number };
  textEncoder: { hiddenSize: number };
  unet: { parameters: number; adapterParameters: number };
  /**
   * compatibleFingerprints: fingerprints of earlier packs whose subject caches this pack uses as its
   * own — written by the exporter only when everything that makes a cache (U-Net, text encoder and VAE
   * encoder files, cache layers, timestep, latent scaling, scheduler) is identical.
   */
  /**
   * selfViews: more views the cache builder makes of every reference image from the image alone
   * ("flip": its mirror image) and caches beside it; absent → the reference alone, as the method does.
   */
  cache: { timestep: number; layers: PackLayer[]; compatibleFingerprints?: string[]; selfViews?: SelfView[] };
  /** imageScaleEnd: the default sI at the last step (a ramp from imageScale); absent → constant sI. */
  guidance: { textScale: number; imageScale: number; imageScaleEnd?: number };
  segmenter: { inputSize: number };
  graphs: Record<GraphRole, GraphFiles>;
  files: PackFileEntry[];
}

/** The views of a reference the runtime can make from the image alone (docs/model-pack.md, cache.selfViews). */
export const SELF_VIEWS = ['flip'] as const;
export type SelfView = (typeof SELF_VIEWS)[number];

const NAME_RE = /^[a-z0-9][a-z0-9._-]*$/;
const LAYER_RE = /^(mid|dec[0-9]+)$/;
const SHA_RE = /^[0-9a-f]{64}$/;

type Json = Record<string, unknown>;

function fail(rule: string): never {
  throw new PackError(`Invalid pack manifest: ${rule}`);
}
function isObj(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
function obj(parent: Json, key: string, where: string): Json {
  const v = parent[key];
  if (!isObj(v)) fail(`${where}${key} must be an object`);
  return v;
}
function str(parent: Json, key: string, where: string): string {
  const v = parent[key];
  if (typeof v !== 'string') fail(`${where}${key} must be a string`);
  return v;
}
function num(parent: Json, key: string, where: string): number {
  const v = parent[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(`${where}${key} must be a finite number`);
  return v;
}
function posInt(parent: Json, key: string, where: string): number {
  const v = num(parent, key, where);
  if (!Number.isInteger(v) || v <= 0) fail(`${where}${key} must be a positive integer`);
  return v;
}
function nonNegInt(parent: Json, key: string, where: string): number {
  const v = num(parent, key, where);
  if (!Number.isInteger(v) || v < 0) fail(`${where}${key} must be a non-negative integer`);
  return v;
}
function plainName(path: string, where: string): void {
  if (path.length === 0 || path.includes('/') || path.includes('\\') || path.includes('..')) {
    fail(`${where} "${path}" must be a plain file name (no "/", no "..")`);
  }
}

/** Checks `json` against every rule of docs/model-pack.md; throws PackError naming the first broken one. */
export function validateManifest(json: unknown): PackManifest {
  if (!isObj(json)) fail('the manifest must be a JSON object');
  if (json.format !== 'dreamcache-pack') fail('format must be "dreamcache-pack"');
  if (json.formatVersion !== 1) fail('formatVersion must be 1');
  const name = str(json, 'name', '');
  if (!NAME_RE.test(name)) fail(`name "${name}" must match ^[a-z0-9][a-z0-9._-]*$`);
  str(json, 'version', '');
  if (json.description !== undefined) str(json, 'description', '');
  if (json.license !== undefined) str(json, 'license', '');
  if (typeof json.trained !== 'boolean') fail('trained must be a boolean');

  const image = obj(json, 'image', '');
  const size = posInt(image, 'size', 'image.');
  const latent = obj(json, 'latent', '');
  posInt(latent, 'channels', 'latent.');
  const downsample = posInt(latent, 'downsample', 'latent.');
  if (size % downsample !== 0) fail('image.size must be divisible by latent.downsample');
  if (num(latent, 'scalingFactor', 'latent.') <= 0) fail('latent.scalingFactor must be > 0');

  const sch = obj(json, 'scheduler', '');
  const T = posInt(sch, 'numTrainTimesteps', 'scheduler.');
  const beta = sch.betaSchedule;
  if (beta !== 'linear' && beta !== 'scaled_linear') fail('scheduler.betaSchedule must be "linear" or "scaled_linear"');
  const b0 = num(sch, 'betaStart', 'scheduler.');
  const b1 = num(sch, 'betaEnd', 'scheduler.');
  if (!(b0 > 0 && b1 >= b0 && b1 < 1)) fail('scheduler betas must satisfy 0 < betaStart <= betaEnd < 1');
  if (sch.predictionType !== 'epsilon') fail('scheduler.predictionType must be "epsilon"');

  const tok = obj(json, 'tokenizer', '');
  const tokFile = str(tok, 'file', 'tokenizer.');
  posInt(tok, 'maxLength', 'tokenizer.');
  nonNegInt(tok, 'padTokenId', 'tokenizer.');
  nonNegInt(tok, 'bosTokenId', 'tokenizer.');
  nonNegInt(tok, 'eosTokenId', 'tokenizer.');
  posInt(obj(json, 'textEncoder', ''), 'hiddenSize', 'textEncoder.');
  if (json.unet !== undefined) {
    const unet = obj(json, 'unet', '');
    nonNegInt(unet, 'parameters', 'unet.');
    nonNegInt(unet, 'adapterParameters', 'unet.');
  }

  const cache = obj(json, 'cache', '');
  const ts = num(cache, 'timestep', 'cache.');
  if (!Number.isInteger(ts) || ts < 0 || ts >= T) fail('cache.timestep must be an integer in [0, numTrainTimesteps)');
  const layers = cache.layers;
  if (!Array.isArray(layers) || layers.length === 0) fail('cache.layers must be a non-empty array');
  const seenLayers = new Set<string>();
  layers.forEach((l, i) => {
    if (!isObj(l)) fail(`cache.layers[${i}] must be an object`);
    const ln = str(l, 'name', `cache.layers[${i}].`);
    if (!LAYER_RE.test(ln)) fail(`cache layer name "${ln}" must match ^(mid|dec[0-9]+)$`);
    if (seenLayers.has(ln)) fail(`cache layer names must be unique ("${ln}" repeats)`);
    seenLayers.add(ln);
    if (l.module !== undefined) str(l, 'module', `cache.layers[${i}].`);
    posInt(l, 'channels', `cache.layers[${i}].`);
    posInt(l, 'height', `cache.layers[${i}].`);
    posInt(l, 'width', `cache.layers[${i}].`);
  });
  const compat = cache.compatibleFingerprints;
  if (compat !== undefined && (!Array.isArray(compat) || !compat.every((f) => typeof f === 'string' && SHA_RE.test(f)))) {
    fail('cache.compatibleFingerprints must be an array of sha256 hex strings');
  }
  const views = cache.selfViews;
  if (views !== undefined) {
    if (!Array.isArray(views) || !views.every((v) => typeof v === 'string' && (SELF_VIEWS as readonly string[]).includes(v))) {
      fail(`cache.selfViews must be an array of ${SELF_VIEWS.map((v) => `"${v}"`).join(', ')}`);
    }
    if (new Set(views).size !== views.length) fail('cache.selfViews must not repeat a view');
  }

  const guidance = obj(json, 'guidance', '');
  num(guidance, 'textScale', 'guidance.');
  num(guidance, 'imageScale', 'guidance.');
  if (guidance.imageScaleEnd !== undefined) num(guidance, 'imageScaleEnd', 'guidance.');
  posInt(obj(json, 'segmenter', ''), 'inputSize', 'segmenter.');

  // files first, so graph entries can be checked against it.
  const files = json.files;
  if (!Array.isArray(files)) fail('files must be an array');
  const listed = new Set<string>();
  files.forEach((f, i) => {
    if (!isObj(f)) fail(`files[${i}] must be an object`);
    const p = str(f, 'path', `files[${i}].`);
    plainName(p, `files[${i}].path`);
    if (p === 'manifest.json') fail('files must not list manifest.json');
    if (listed.has(p)) fail(`files must list each file once ("${p}" repeats)`);
    listed.add(p);
    nonNegInt(f, 'bytes', `files[${i}].`);
    const sha = str(f, 'sha256', `files[${i}].`);
    if (!SHA_RE.test(sha)) fail(`files[${i}].sha256 must be 64 lowercase hex digits`);
  });

  const graphs = obj(json, 'graphs', '');
  for (const role of GRAPH_ROLES) {
    if (!isObj(graphs[role])) fail(`graphs.${role} must be present`);
    const g = graphs[role] as Json;
    if (typeof g.fp32 !== 'string') fail(`graphs.${role} must have an fp32 file`);
    for (const key of ['fp32', 'fp32Data', 'fp16', 'fp16Data']) {
      if (g[key] === undefined) continue;
      const p = str(g, key, `graphs.${role}.`);
      plainName(p, `graphs.${role}.${key}`);
      if (!listed.has(p)) fail(`graphs.${role}.${key} "${p}" must be listed in files`);
    }
  }
  plainName(tokFile, 'tokenizer.file');
  if (!listed.has(tokFile)) fail(`tokenizer.file "${tokFile}" must be listed in files`);

  return json as unknown as PackManifest;
}

/** `name:channels:height:width` of every cached layer, joined with `,`. */
export function layerSignature(layers: readonly PackLayer[]): string {
  return layers.map((l) => `${l.name}:${l.channels}:${l.height}:${l.width}`).join(',');
}

export function fileEntry(manifest: PackManifest, path: string): PackFileEntry {
  const entry = manifest.files.find((f) => f.path === path);
  if (!entry) throw new PackError(`Invalid pack manifest: "${path}" must be listed in files`);
  return entry;
}

/** sha256 hex of `name\nversion\nsha256(fp32 unet)\nlayers` — ties a cache to the model that made it. */
export async function packFingerprint(manifest: PackManifest): Promise<string> {
  const unetSha = fileEntry(manifest, manifest.graphs.unet.fp32).sha256;
  const text = `${manifest.name}\n${manifest.version}\n${unetSha}\n${layerSignature(manifest.cache.layers)}`;
  return sha256Hex(utf8(text));
}

interface PackIdentity {
  manifest: PackManifest;
  fingerprint: string;
}

/** Every fingerprint whose caches the pack uses: its own, then the earlier packs' it declares compatible. */
export function acceptedFingerprints(pack: PackIdentity): string[] {
  return [pack.fingerprint, ...(pack.manifest.cache.compatibleFingerprints ?? [])];
}

/** Whether a cache (subject, share file) made by the pack of `fingerprint` works with `pack`. */
export function usesCacheOf(pack: PackIdentity | null, fingerprint: string | undefined): boolean {
  return pack !== null && fingerprint !== undefined && acceptedFingerprints(pack).includes(fingerprint);
}

export async function readManifest(source: PackSource): Promise<PackManifest> {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(await source.read('manifest.json')));
  } catch (e) {
    if (e instanceof PackError) throw e;
    throw new PackError(`Cannot read manifest.json: ${(e as Error).message}`);
  }
  return validateManifest(json);
}

/** Reads a listed file and refuses it unless size and sha256 match the manifest. */
export async function readVerifiedFile(
  source: PackSource,
  manifest: PackManifest,
  path: string,
  onBytes?: (loaded: number, total: number) => void,
): Promise<Uint8Array> {
  const entry = fileEntry(manifest, path);
  const bytes = await source.read(path, onBytes ? (loaded) => onBytes(loaded, entry.bytes) : undefined);
  if (bytes.byteLength !== entry.bytes) {
    throw new PackError(`Pack file ${path} has ${bytes.byteLength} bytes, the manifest says ${entry.bytes}`);
  }
  const sha = await sha256Hex(bytes);
  if (sha !== entry.sha256) throw new PackError(`Pack file ${path} is corrupt: sha256 ${sha} ≠ manifest ${entry.sha256}`);
  return bytes;
}
