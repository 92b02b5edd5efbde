// Packs held as Blobs (a user-chosen folder's File objects, or files stored in IndexedDB):
// a PackSource over them, and the check of every listed file's presence, size and sha256
// before the pack is stored or used. Blobs stay on disk until a graph is read; hashing
// streams big files so they are never held in memory for it.
import { PackError } from './errors';
import { sha256Hex } from './hash';
import { readManifest, type PackManifest } from './pack';
import type { PackSource } from './pack-source';
import { Sha256 } from './sha256-stream';

/** Plain file name → contents; the manifest is `manifest.json`. */
export type PackBlobs = Readonly<Record<string, Blob>>;

/** Files up to this size are hashed by WebCrypto in one go (fast, native); larger ones stream. */
export const WHOLE_HASH_LIMIT = 256 * 1024 * 1024;

function missing(path: string): PackError {
  return new PackError(`missing file ${path}`);
}

async function forEachChunk(blob: Blob, onChunk: (chunk: Uint8Array) => void): Promise<void> {
  const reader = blob.stream().getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    onChunk(value);
  }
}

export function createBlobSource(files: PackBlobs, location: string): PackSource {
  return {
    location,
    async read(path, onLoaded) {
      const blob = Object.prototype.hasOwnProperty.call(files, path) ? files[path] : undefined;
      if (!blob) throw missing(path);
      if (!onLoaded) return new Uint8Array(await blob.arrayBuffer());
      const out = new Uint8Array(blob.size);
      let offset = 0;
      await forEachChunk(blob, (chunk) => {
        if (offset + chunk.length > out.length) throw new PackError(`${path} changed while it was read`);
        out.set(chunk, offset);
        offset += chunk.length;
        onLoaded(offset);
      });
      return offset === out.length ? out : out.subarray(0, offset);
    },
  };
}

/** Lowercase hex sha256 of a Blob; `onBytes` gets the bytes hashed so far. */
export async function hashBlob(blob: Blob, onBytes?: (loaded: number) => void, wholeLimit = WHOLE_HASH_LIMIT): Promise<string> {
  if (blob.size <= wholeLimit) {
    const hex = await sha256Hex(new Uint8Array(await blob.arrayBuffer()));
    onBytes?.(blob.size);
    return hex;
  }
  const hash = new Sha256();
  let loaded = 0;
  await forEachChunk(blob, (chunk) => {
    hash.update(chunk);
    loaded += chunk.length;
    onBytes?.(loaded);
  });
  return hash.hex();
}

export interface VerifyProgress {
  /** The file being hashed. */
  path: string;
  /** Bytes hashed so far over all files, and the total. */
  loaded: number;
  total: number;
}

/** Reads and checks manifest.json of a set of Blobs (PackError naming the first broken rule). */
export function readBlobManifest(files: PackBlobs): Promise<PackManifest> {
  return readManifest(createBlobSource(files, 'the chosen files'));
}

/**
 * Every file the manifest lists must be there with its exact size and sha256. Cheap checks
 * run first over all files (presence, then size), so a missing file is named before
 * gigabytes are hashed; the error names the first file that does not match.
 */
export async function verifyPackFiles(
  manifest: PackManifest,
  files: PackBlobs,
  onProgress?: (p: VerifyProgress) => void,
): Promise<void> {
  const has = (p: string) => Object.prototype.hasOwnProperty.call(files, p);
  for (const entry of manifest.files) if (!has(entry.path)) throw missing(entry.path);
  for (const entry of manifest.files) {
    const size = files[entry.path].size;
    if (size !== entry.bytes) throw new PackError(`${entry.path}: ${size} bytes, the manifest says ${entry.bytes}`);
  }
  const total = manifest.files.reduce((s, f) => s + f.bytes, 0);
  let done = 0;
  for (const entry of manifest.files) {
    onProgress?.({ path: entry.path, loaded: done, total });
    const sha = await hashBlob(files[entry.path], (n) => onProgress?.({ path: entry.path, loaded: done + n, total }));
    if (sha !== entry.sha256) throw new PackError(`${entry.path}: sha256 differs from the manifest`);
    done += entry.bytes;
  }
  onProgress?.({ path: '', loaded: total, total });
}

/** Only the files the manifest names (and the manifest): stray files are not stored. */
export function listedBlobs(manifest: PackManifest, files: PackBlobs): Record<string, Blob> {
  const out: Record<string, Blob> = { 'manifest.json': files['manifest.json'] };
  for (const f of manifest.files) out[f.path] = files[f.path];
  return out;
}
