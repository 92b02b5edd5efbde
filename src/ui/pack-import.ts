// Getting a model pack in: from a folder (File System Access API or a directory/multi-file
// picker) or a URL, checked completely (manifest, device limits, every file's size and
// sha256) before anything is stored. Errors are PackError / DeviceLimitError naming the first
// thing that does not match.
import { chooseBackend, type Capabilities } from '../runtime/capabilities';
import { assertDeviceFits } from '../runtime/device-fit';
import type { BackendPreference } from '../runtime/engine-types';
import { PackError } from '../runtime/errors';
import { packFingerprint, readManifest, type PackManifest } from '../runtime/pack';
import { listedBlobs, readBlobManifest, verifyPackFiles, type PackBlobs, type VerifyProgress } from '../runtime/pack-files';
import { createFetchSource } from '../runtime/pack-source';
import type { StoredPack } from './storage';

export interface PackProgress {
  message: string;
  loaded: number;
  total: number;
}

export interface ImportContext {
  caps: Capabilities;
  backend: BackendPreference;
  onProgress?: (p: PackProgress) => void;
}

/**
 * Picked files by plain name. A folder picker gives paths like "pack/unet.onnx"; files in
 * subfolders are not part of a pack (its paths are plain names), so the shallowest wins.
 */
export function blobsByName(files: readonly File[]): Record<string, File> {
  const out: Record<string, File> = {};
  const depth: Record<string, number> = {};
  for (const f of files) {
    const rel = (f as File & { webkitRelativePath?: string }).webkitRelativePath || f.name;
    const d = rel.split('/').length;
    if (!(f.name in depth) || d < depth[f.name]) {
      out[f.name] = f;
      depth[f.name] = d;
    }
  }
  return out;
}

interface DirectoryHandleLike {
  name: string;
  values(): AsyncIterable<{ kind: 'file' | 'directory'; name: string; getFile?: () => Promise<File> }>;
}

/** The top-level files of a folder chosen with showDirectoryPicker (disk-backed File objects). */
export async function blobsFromDirectory(handle: DirectoryHandleLike): Promise<Record<string, File>> {
  const out: Record<string, File> = {};
  for await (const entry of handle.values()) {
    if (entry.kind === 'file' && entry.getFile) out[entry.name] = await entry.getFile();
  }
  return out;
}

function checkFits(manifest: PackManifest, ctx: ImportContext): void {
  assertDeviceFits(manifest, ctx.caps, chooseBackend(ctx.caps, manifest, ctx.backend));
}

function verifyMessage(p: VerifyProgress): PackProgress {
  return { message: p.path ? `Checking ${p.path}` : 'Checked', loaded: p.loaded, total: p.total };
}

/** Checks a set of files as a pack and returns the record to store (only the listed files). */
export async function preparePack(files: PackBlobs, origin: string, ctx: ImportContext): Promise<StoredPack> {
  const manifest = await readBlobManifest(files);
  checkFits(manifest, ctx);
  await verifyPackFiles(manifest, files, (p) => ctx.onProgress?.(verifyMessage(p)));
  return {
    id: await packFingerprint(manifest),
    name: manifest.name,
    version: manifest.version,
    trained: manifest.trained,
    description: manifest.description ?? '',
    bytes: manifest.files.reduce((s, f) => s + f.bytes, 0),
    addedAt: Date.now(),
    origin,
    manifest,
    files: listedBlobs(manifest, files),
  };
}

/** Blob parts are merged every this many bytes, so a big download is not kept as many small arrays. */
const MERGE_BYTES = 32 * 1024 * 1024;

async function downloadBlob(url: string, onBytes: (n: number) => void): Promise<Blob> {
  let response: Response;
  try {
    response = await fetch(url);
  } catch (e) {
    throw new PackError(`Cannot fetch ${url}: ${(e as Error).message}`);
  }
  if (response.status === 404) throw new PackError(`missing file ${url.split('/').pop()} (HTTP 404 at ${url})`);
  if (!response.ok || !response.body) throw new PackError(`Cannot fetch ${url}: HTTP ${response.status}`);
  const reader = response.body.getReader();
  let blob = new Blob([]);
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  let loaded = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    pending.push(value);
    pendingBytes += value.length;
    loaded += value.length;
    onBytes(loaded);
    if (pendingBytes >= MERGE_BYTES) {
      // the browser may move a large Blob out of the JS heap; plain arrays it cannot
      blob = new Blob([blob, ...(pending as BlobPart[])]);
      pending = [];
      pendingBytes = 0;
    }
  }
  return new Blob([blob, ...(pending as BlobPart[])]);
}

/** A pack folder on the web: manifest and device limits first, then every listed file. */
export async function fetchPack(baseUrl: string, ctx: ImportContext): Promise<StoredPack> {
  const base = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
  const manifest = await readManifest(createFetchSource(base));
  checkFits(manifest, ctx);
  const total = manifest.files.reduce((s, f) => s + f.bytes, 0);
  const files: Record<string, Blob> = {};
  files['manifest.json'] = await downloadBlob(`${base}manifest.json`, () => undefined);
  let done = 0;
  for (const f of manifest.files) {
    files[f.path] = await downloadBlob(`${base}${f.path}`, (n) =>
      ctx.onProgress?.({ message: `Downloading ${f.path}`, loaded: done + Math.min(n, f.bytes), total }),
    );
    done += f.bytes;
  }
  return preparePack(files, base, ctx);
}

/** Refuses before writing when the browser's storage quota clearly cannot take the pack. */
export async function assertStorageRoom(bytes: number): Promise<void> {
  const storage = (globalThis.navigator as Navigator | undefined)?.storage;
  if (!storage?.estimate) return;
  const { quota, usage } = await storage.estimate();
  if (quota === undefined || usage === undefined) return;
  const free = quota - usage;
  if (bytes > free) {
    const gb = (n: number) => `${(n / 1e9).toFixed(2)} GB`;
    throw new PackError(`This pack needs ${gb(bytes)} of browser storage; ${gb(free)} is free. Delete a stored pack or free disk space.`);
  }
  // Ask once that stored packs survive storage pressure; the browser may say no, which is fine.
  await storage.persist?.().catch(() => false);
}
