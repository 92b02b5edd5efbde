// Subjects as bytes: building a library record from a fresh cache, reading a stored cache,
// rebuilding it for another pack from the stored picture, exporting and importing .dreamcache
// share files. A subject's cache is stored in the share-file encoding itself; export adds the
// reference picture, so a file made with another model can be rebuilt where it is imported.
import type { LoadedInfo, RgbaImage, SubjectCache } from '../runtime/engine-types';
import { decodeDreamcache, encodeDreamcache, type DecodedDreamcache } from '../runtime/dreamcache-file';
import { acceptedFingerprints, usesCacheOf } from '../runtime/pack';
import { MAX_CACHE_FILE_BYTES, THUMBNAIL_SIDE } from './config';
import { ImportError, formatBytes, messageOf } from './errors';
import { DREAMCACHE_EXTENSION, safeFileName } from './file-kind';
import { blobBytes, placeholderThumbnail, pngToRgba, rgbaToPng, thumbnailPng } from './png';
import type { SubjectRecord } from './storage';

const MAX_NAME = 60;

export function bytesToBlob(bytes: Uint8Array, type: string): Blob {
  return new Blob([bytes.slice()], { type });
}

/** A readable default subject name from a file name. */
export function nameFromFile(fileName: string): string {
  const stem = fileName.replace(/\.[^.]+$/, '').replace(/[_-]+/g, ' ').trim();
  return stem.slice(0, MAX_NAME) || 'Subject';
}

export function cleanName(name: string, fallback: string): string {
  return name.trim().slice(0, MAX_NAME) || fallback;
}

function decodeOptions(loaded: LoadedInfo | null, fingerprint: string) {
  return {
    // A subject of a compatible earlier pack is the loaded pack's own (same U-Net, same cache).
    expectedFingerprint: loaded && usesCacheOf(loaded, fingerprint) ? acceptedFingerprints(loaded) : fingerprint,
    // Layer shapes are only known for the loaded pack (a subject of another pack can still be exported).
    expectedLayers: usesCacheOf(loaded, fingerprint) ? loaded?.manifest.cache.layers : undefined,
    maxBytes: MAX_CACHE_FILE_BYTES,
  };
}

export async function newSubjectRecord(opts: {
  id: string;
  cache: SubjectCache;
  name: string;
  onWhite: RgbaImage;
  loaded: LoadedInfo;
}): Promise<SubjectRecord> {
  const thumbnail = await thumbnailPng(opts.onWhite, THUMBNAIL_SIDE);
  const file = await encodeDreamcache({ cache: opts.cache, name: opts.name, thumbnailPng: await blobBytes(thumbnail) });
  return {
    id: opts.id,
    name: opts.name,
    createdAt: Date.now(),
    packName: opts.loaded.manifest.name,
    fingerprint: opts.loaded.fingerprint,
    thumbnail,
    reference: await rgbaToPng(opts.onWhite),
    cacheFile: bytesToBlob(file, 'application/octet-stream'),
  };
}

/**
 * What a subject's cache is built again from: the stored reference, else (records from before
 * references were kept) the thumbnail, which for a 128-px pack is the reference itself. As stored:
 * buildCache resizes it to its pack's size and puts any transparency on white. Null for an
 * imported file that carried no picture.
 */
export async function rebuildReference(subject: SubjectRecord): Promise<RgbaImage | null> {
  const source = subject.reference ?? (subject.thumbnailIsPlaceholder ? null : subject.thumbnail);
  if (!source) return null;
  try {
    return await pngToRgba(source);
  } catch (err) {
    throw new Error(`its stored picture cannot be read (${messageOf(err)})`);
  }
}

/** The same subject (id, name, date, pictures) with a cache of the loaded pack. */
export async function rebuiltSubjectRecord(subject: SubjectRecord, cache: SubjectCache, loaded: LoadedInfo): Promise<SubjectRecord> {
  const file = await encodeDreamcache({ cache, name: subject.name, thumbnailPng: await blobBytes(subject.thumbnail) });
  return {
    ...subject,
    packName: loaded.manifest.name,
    fingerprint: loaded.fingerprint,
    cacheFile: bytesToBlob(file, 'application/octet-stream'),
  };
}

export async function readSubjectCache(subject: SubjectRecord, loaded: LoadedInfo): Promise<SubjectCache> {
  const bytes = await blobBytes(subject.cacheFile);
  return (await decodeDreamcache(bytes, decodeOptions(loaded, loaded.fingerprint))).cache;
}

/**
 * Re-encoded so the file carries the current name (renames do not touch the stored bytes) and the
 * reference picture, from which an app with another model rebuilds the subject.
 */
export async function exportSubjectFile(subject: SubjectRecord, loaded: LoadedInfo | null): Promise<{ blob: Blob; fileName: string }> {
  const decoded = await decodeDreamcache(await blobBytes(subject.cacheFile), decodeOptions(loaded, subject.fingerprint));
  const file = await encodeDreamcache({
    cache: decoded.cache,
    name: subject.name,
    // A thumbnail drawn from the name is not a picture of the subject: nothing to rebuild from.
    thumbnailPng: subject.thumbnailIsPlaceholder ? null : await blobBytes(subject.thumbnail),
    referencePng: subject.reference ? await blobBytes(subject.reference) : null,
    dtype: decoded.dtype,
  });
  return {
    blob: bytesToBlob(file, 'application/octet-stream'),
    fileName: `${safeFileName(subject.name, 'subject')}${DREAMCACHE_EXTENSION}`,
  };
}

async function assertPngDecodes(blob: Blob): Promise<void> {
  const bitmap = await createImageBitmap(blob);
  bitmap.close();
}

/**
 * Checks a share file completely; returns the record to store, or throws ImportError. A file made
 * with another model is accepted when it carries a picture to rebuild it from (the reference, else
 * the thumbnail): its record keeps that model's fingerprint until the caller rebuilds it.
 */
export async function importSubjectFile(file: File, loaded: LoadedInfo | null, id: string): Promise<SubjectRecord> {
  if (!loaded) {
    throw new ImportError('no-model', `Wait for the model to finish loading, then import “${file.name}” again.`);
  }
  if (file.size === 0) {
    throw new ImportError('empty', `“${file.name}” is empty (0 bytes); it is not a DreamCache subject file.`);
  }
  if (file.size > MAX_CACHE_FILE_BYTES) {
    throw new ImportError(
      'too-big',
      `“${file.name}” is ${formatBytes(file.size)}; subject files up to ${formatBytes(MAX_CACHE_FILE_BYTES)} are accepted.`,
    );
  }
  const bytes = new Uint8Array(await file.arrayBuffer());
  let decoded: DecodedDreamcache;
  try {
    decoded = await decodeDreamcache(bytes, { ...decodeOptions(loaded, loaded.fingerprint), otherPacks: 'accept' });
  } catch (err) {
    throw new ImportError('invalid', `“${file.name}” was not imported: ${messageOf(err)}`);
  }
  const name = cleanName(decoded.name, nameFromFile(file.name));
  const carriesPicture = decoded.thumbnailPng !== null;
  if (!decoded.samePack && !carriesPicture && !decoded.referencePng) {
    throw new ImportError(
      'other-model',
      `“${file.name}” was not imported: it was made with another model (“${decoded.cache.packName}”) and carries no picture to rebuild it from. Load that model, or add the subject's photo again.`,
    );
  }
  const thumbnail = carriesPicture ? bytesToBlob(decoded.thumbnailPng!, 'image/png') : await placeholderThumbnail(name, THUMBNAIL_SIDE);
  const reference = decoded.referencePng ? bytesToBlob(decoded.referencePng, 'image/png') : null;
  for (const [blob, what] of [[thumbnail, 'thumbnail'], [reference, 'reference picture']] as const) {
    try {
      if (blob) await assertPngDecodes(blob);
    } catch {
      throw new ImportError('invalid', `“${file.name}” was not imported: its ${what} is not a readable PNG.`);
    }
  }
  return {
    id,
    name,
    createdAt: Date.now(),
    // A file of another model keeps that model's fingerprint: the library shows it as made with it until rebuilt.
    packName: decoded.samePack ? loaded.manifest.name : decoded.cache.packName,
    fingerprint: decoded.samePack ? loaded.fingerprint : decoded.cache.fingerprint,
    thumbnail,
    ...(reference ? { reference } : {}),
    // Without a reference, a rebuild starts from the thumbnail; a placeholder drawn from the name cannot serve.
    ...(carriesPicture ? {} : { thumbnailIsPlaceholder: true }),
    cacheFile: bytesToBlob(bytes, 'application/octet-stream'),
  };
}
