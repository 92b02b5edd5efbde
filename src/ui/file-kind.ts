// Routes a dropped or picked file: share files by extension, everything else is treated as
// a photo (and then refused with a clear message if it is not one).
export type DroppedFileKind = 'dreamcache' | 'photo';

export const DREAMCACHE_EXTENSION = '.dreamcache';

export function kindOfFile(file: { name: string }): DroppedFileKind {
  return file.name.toLowerCase().endsWith(DREAMCACHE_EXTENSION) ? 'dreamcache' : 'photo';
}

/** A file name safe on every OS, for downloads. */
export function safeFileName(name: string, fallback: string): string {
  const cleaned = name
    .normalize('NFC')
    .replace(/[\\/:*?"<>|\u0000-\u001f]+/g, '-')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 80);
  return cleaned || fallback;
}
