// Turns a user's file into an upright RGBA photo, refusing bad input with a PhotoInputError
// before any decoding work: empty files, non-images, and images over MAX_PHOTO_PIXELS.
import type { RgbaImage } from '../runtime/engine-types';
import { MAX_PHOTO_BYTES, MAX_PHOTO_PIXELS, WORKING_PHOTO_SIDE } from './config';
import { PhotoInputError, formatBytes, formatMegapixels } from './errors';
import { HEADER_SCAN_BYTES, sniffImageHeader, type ImageHeader } from './image-header';

export async function checkPhotoFile(file: File): Promise<ImageHeader> {
  if (file.size === 0) {
    throw new PhotoInputError('empty', `“${file.name}” is empty (0 bytes), so there is no photo in it.`);
  }
  if (file.size > MAX_PHOTO_BYTES) {
    throw new PhotoInputError(
      'too-big',
      `“${file.name}” is ${formatBytes(file.size)}; photos up to ${formatBytes(MAX_PHOTO_BYTES)} are accepted.`,
    );
  }
  const head = new Uint8Array(await file.slice(0, HEADER_SCAN_BYTES).arrayBuffer());
  let header = sniffImageHeader(head);
  if (!header && head[0] === 0xff && head[1] === 0xd8 && file.size > HEADER_SCAN_BYTES) {
    // Large EXIF/ICC segments can push a JPEG's frame header past the first scan window.
    header = sniffImageHeader(new Uint8Array(await file.arrayBuffer()));
  }
  if (!header) {
    throw new PhotoInputError(
      'not-an-image',
      `“${file.name}” is not a JPEG, PNG or WebP image (its contents do not match any of those formats).`,
    );
  }
  const pixels = header.width * header.height;
  if (pixels > MAX_PHOTO_PIXELS) {
    throw new PhotoInputError(
      'too-many-pixels',
      `“${file.name}” is ${header.width}×${header.height} (${formatMegapixels(pixels)}); ` +
        `the limit is ${formatMegapixels(MAX_PHOTO_PIXELS)}. Please downscale it first.`,
    );
  }
  return header;
}

/** Longest side capped at maxSide, aspect kept. */
export function fitWithin(width: number, height: number, maxSide: number): { width: number; height: number } {
  const scale = Math.min(1, maxSide / Math.max(width, height));
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
}

/** Decoded, EXIF-rotated, downscaled to WORKING_PHOTO_SIDE. Alpha is kept straight (not premultiplied). */
export async function readPhoto(file: File): Promise<RgbaImage> {
  await checkPhotoFile(file);
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(file, {
      imageOrientation: 'from-image',
      premultiplyAlpha: 'none',
      colorSpaceConversion: 'default',
    });
  } catch {
    throw new PhotoInputError(
      'undecodable',
      `“${file.name}” looks like an image but could not be decoded; the file may be damaged or cut short.`,
    );
  }
  try {
    const size = fitWithin(bitmap.width, bitmap.height, WORKING_PHOTO_SIDE);
    return drawToRgba(bitmap, size.width, size.height);
  } finally {
    bitmap.close();
  }
}

export function drawToRgba(source: CanvasImageSource, width: number, height: number): RgbaImage {
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  if (!ctx) throw new Error('This browser cannot create a 2D canvas.');
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(source, 0, 0, width, height);
  const { data } = ctx.getImageData(0, 0, width, height);
  return { width, height, data };
}
