// RGBA ↔ PNG through the browser's canvas encoder.
import type { RgbaImage } from '../runtime/engine-types';
import { drawToRgba, fitWithin } from './photo-decode';

function canvasOf(image: RgbaImage): OffscreenCanvas {
  const canvas = new OffscreenCanvas(image.width, image.height);
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('This browser cannot create a 2D canvas.');
  ctx.putImageData(new ImageData(new Uint8ClampedArray(image.data), image.width, image.height), 0, 0);
  return canvas;
}

export function rgbaToPng(image: RgbaImage): Promise<Blob> {
  return canvasOf(image).convertToBlob({ type: 'image/png' });
}

/** Downscaled PNG (longest side `side`) for the library and share files. */
export async function thumbnailPng(image: RgbaImage, side: number): Promise<Blob> {
  const size = fitWithin(image.width, image.height, side);
  const target = new OffscreenCanvas(size.width, size.height);
  const ctx = target.getContext('2d');
  if (!ctx) throw new Error('This browser cannot create a 2D canvas.');
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(canvasOf(image), 0, 0, size.width, size.height);
  return target.convertToBlob({ type: 'image/png' });
}

/** A stored PNG's pixels as written: no colour-space conversion or premultiplying on the way. */
export async function pngToRgba(blob: Blob): Promise<RgbaImage> {
  const bitmap = await createImageBitmap(blob, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  try {
    return drawToRgba(bitmap, bitmap.width, bitmap.height);
  } finally {
    bitmap.close();
  }
}

export async function blobBytes(blob: Blob): Promise<Uint8Array> {
  return new Uint8Array(await blob.arrayBuffer());
}

/** For share files made without a thumbnail: the name's initial on a neutral tile. */
export function placeholderThumbnail(name: string, side: number): Promise<Blob> {
  const canvas = new OffscreenCanvas(side, side);
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('This browser cannot create a 2D canvas.');
  ctx.fillStyle = '#2a2f3a';
  ctx.fillRect(0, 0, side, side);
  ctx.fillStyle = '#c9d6ff';
  ctx.font = `600 ${Math.round(side * 0.5)}px system-ui, sans-serif`;
  ctx.textAlign = 'center';
  ctx.textBaseline = 'middle';
  ctx.fillText((name.trim()[0] ?? '?').toUpperCase(), side / 2, side / 2);
  return canvas.convertToBlob({ type: 'image/png' });
}
