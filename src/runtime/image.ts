// Pure image helpers: resizing, tensor layout conversions, masks and the subject-on-white
// reference the cache is built from.
import { InputError } from './errors';
import type { MaskImage, RgbaImage } from './engine-types';

export function createRgba(width: number, height: number, fill?: [number, number, number, number]): RgbaImage {
  const data = new Uint8ClampedArray(width * height * 4);
  if (fill) for (let i = 0; i < data.length; i += 4) data.set(fill, i);
  return { width, height, data };
}

export function checkImage(img: RgbaImage, what = 'image'): void {
  if (!img || !Number.isInteger(img.width) || !Number.isInteger(img.height) || img.width < 1 || img.height < 1) {
    throw new InputError(`${what} must have positive integer width and height`);
  }
  if (!img.data || img.data.length !== img.width * img.height * 4) {
    throw new InputError(`${what} data must hold width·height·4 bytes (${img.width}×${img.height})`);
  }
}

/**
 * Resamples a planar float image (channels × h × w) to (channels × oh × ow).
 * Area averaging when shrinking (no aliasing), bilinear with half-pixel centers when growing.
 */
export function resizePlanar(src: Float32Array, channels: number, w: number, h: number, ow: number, oh: number): Float32Array {
  const tmp = resizeAxis(src, channels * h, w, ow); // rows: (channels·h) × ow
  // transpose-free vertical pass: treat each column separately
  const out = new Float32Array(channels * oh * ow);
  const col = new Float32Array(h);
  for (let c = 0; c < channels; c++) {
    for (let x = 0; x < ow; x++) {
      for (let y = 0; y < h; y++) col[y] = tmp[(c * h + y) * ow + x];
      const r = resizeAxis(col, 1, h, oh);
      for (let y = 0; y < oh; y++) out[(c * oh + y) * ow + x] = r[y];
    }
  }
  return out;
}

/** Resamples `rows` rows of length n to length m along the last axis. */
function resizeAxis(src: Float32Array, rows: number, n: number, m: number): Float32Array {
  const out = new Float32Array(rows * m);
  if (n === m) {
    out.set(src.subarray(0, rows * n));
    return out;
  }
  const scale = n / m;
  if (m < n) {
    // area: output cell j covers [j·scale, (j+1)·scale) of the input
    for (let j = 0; j < m; j++) {
      const a = j * scale;
      const b = a + scale;
      const i0 = Math.floor(a);
      const i1 = Math.min(n, Math.ceil(b));
      for (let r = 0; r < rows; r++) {
        let acc = 0;
        for (let i = i0; i < i1; i++) {
          const wgt = Math.min(b, i + 1) - Math.max(a, i);
          acc += wgt * src[r * n + i];
        }
        out[r * m + j] = acc / scale;
      }
    }
  } else {
    for (let j = 0; j < m; j++) {
      const x = Math.min(n - 1, Math.max(0, (j + 0.5) * scale - 0.5));
      const i0 = Math.floor(x);
      const i1 = Math.min(n - 1, i0 + 1);
      const f = x - i0;
      for (let r = 0; r < rows; r++) out[r * m + j] = src[r * n + i0] * (1 - f) + src[r * n + i1] * f;
    }
  }
  return out;
}

function rgbaToPlanar(img: RgbaImage): Float32Array {
  const n = img.width * img.height;
  const out = new Float32Array(4 * n);
  for (let i = 0; i < n; i++) for (let c = 0; c < 4; c++) out[c * n + i] = img.data[i * 4 + c];
  return out;
}

function planarToRgba(p: Float32Array, width: number, height: number): RgbaImage {
  const n = width * height;
  const data = new Uint8ClampedArray(4 * n);
  for (let i = 0; i < n; i++) for (let c = 0; c < 4; c++) data[i * 4 + c] = Math.round(p[c * n + i]);
  return { width, height, data };
}

export function resizeRgba(img: RgbaImage, width: number, height: number): RgbaImage {
  checkImage(img);
  if (img.width === width && img.height === height) return { width, height, data: new Uint8ClampedArray(img.data) };
  return planarToRgba(resizePlanar(rgbaToPlanar(img), 4, img.width, img.height, width, height), width, height);
}

/** The image mirrored left to right: a second view of a subject made from its one photo. */
export function mirrorRgba(img: RgbaImage): RgbaImage {
  checkImage(img);
  const { width, height } = img;
  const out = new Uint8ClampedArray(img.data.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const s = (y * width + x) * 4;
      out.set(img.data.subarray(s, s + 4), (y * width + (width - 1 - x)) * 4);
    }
  }
  return { width, height, data: out };
}

/** Any transparency in a reference becomes white, as the contract's "subject on white" wants. */
export function flattenOnWhite(img: RgbaImage): RgbaImage {
  checkImage(img, 'reference');
  const out = createRgba(img.width, img.height);
  for (let i = 0; i < img.data.length; i += 4) {
    const a = img.data[i + 3] / 255;
    for (let c = 0; c < 3; c++) out.data[i + c] = Math.round(img.data[i + c] * a + 255 * (1 - a));
    out.data[i + 3] = 255;
  }
  return out;
}

export function resizeMask(mask: MaskImage, width: number, height: number): MaskImage {
  const data = resizePlanar(mask.data, 1, mask.width, mask.height, width, height);
  for (let i = 0; i < data.length; i++) data[i] = Math.min(1, Math.max(0, data[i]));
  return { width, height, data, source: mask.source };
}

/** RGB of an RGBA image as NCHW [1, 3, H, W] in [−1, 1] (or [0, 1] with range '01'); alpha ignored. */
export function rgbaToNchw(img: RgbaImage, range: '-11' | '01' = '-11'): Float32Array {
  const n = img.width * img.height;
  const out = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) {
      const v = img.data[i * 4 + c] / 255;
      out[c * n + i] = range === '-11' ? v * 2 - 1 : v;
    }
  }
  return out;
}

/** One NCHW image in [−1, 1] (clamped) → opaque RGBA. */
export function nchwToRgba(data: Float32Array, width: number, height: number, offset = 0): RgbaImage {
  const n = width * height;
  const out = new Uint8ClampedArray(4 * n);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) {
      const v = Math.min(1, Math.max(-1, data[offset + c * n + i]));
      out[i * 4 + c] = Math.round((v + 1) * 127.5);
    }
    out[i * 4 + 3] = 255;
  }
  return { width, height, data: out };
}

/** A photo's alpha as a mask is only useful if it has real cut-out: both clear and solid areas. */
export function alphaIsMeaningful(photo: RgbaImage, minFraction = 0.01): boolean {
  const n = photo.width * photo.height;
  let clear = 0;
  let solid = 0;
  for (let i = 0; i < n; i++) {
    const a = photo.data[i * 4 + 3];
    if (a < 16) clear++;
    else if (a > 239) solid++;
  }
  return clear >= minFraction * n && solid >= minFraction * n;
}

export function maskFromAlpha(photo: RgbaImage): MaskImage {
  const n = photo.width * photo.height;
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = photo.data[i * 4 + 3] / 255;
  return { width: photo.width, height: photo.height, data, source: 'alpha' };
}

export interface Box {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/** Bounding box (exclusive end) of mask values ≥ threshold, or null when empty. */
export function maskBoundingBox(mask: MaskImage, threshold = 0.5): Box | null {
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < mask.height; y++) {
    for (let x = 0; x < mask.width; x++) {
      if (mask.data[y * mask.width + x] >= threshold) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
    }
  }
  return x1 < 0 ? null : { x0, y0, x1: x1 + 1, y1: y1 + 1 };
}

/**
 * The reference DreamCache caches: the subject cut out by `mask`, cropped to its box plus a
 * margin, made square (white padding), resized to size×size and composited on white.
 */
export function composeSubjectOnWhite(photo: RgbaImage, mask: MaskImage, size: number, margin = 0.1): RgbaImage {
  checkImage(photo, 'photo');
  if (mask.width !== photo.width || mask.height !== photo.height) {
    throw new InputError(`mask is ${mask.width}×${mask.height} but the photo is ${photo.width}×${photo.height}`);
  }
  const box = maskBoundingBox(mask);
  if (!box) throw new InputError('no subject found: the mask is empty');
  const side = Math.max(1, Math.round(Math.max(box.x1 - box.x0, box.y1 - box.y0) * (1 + 2 * margin)));
  const cx = (box.x0 + box.x1) / 2;
  const cy = (box.y0 + box.y1) / 2;
  const left = Math.round(cx - side / 2);
  const top = Math.round(cy - side / 2);
  const crop = createRgba(side, side, [255, 255, 255, 255]);
  for (let y = 0; y < side; y++) {
    const sy = top + y;
    if (sy < 0 || sy >= photo.height) continue;
    for (let x = 0; x < side; x++) {
      const sx = left + x;
      if (sx < 0 || sx >= photo.width) continue;
      const si = sy * photo.width + sx;
      const a = mask.data[si] * (photo.data[si * 4 + 3] / 255);
      const di = (y * side + x) * 4;
      for (let c = 0; c < 3; c++) crop.data[di + c] = Math.round(photo.data[si * 4 + c] * a + 255 * (1 - a));
    }
  }
  return resizeRgba(crop, size, size);
}
