import { describe, expect, it } from 'vitest';
import type { MaskImage, RgbaImage } from './engine-types';
import {
  alphaIsMeaningful,
  composeSubjectOnWhite,
  createRgba,
  flattenOnWhite,
  maskBoundingBox,
  maskFromAlpha,
  mirrorRgba,
  nchwToRgba,
  resizeMask,
  resizePlanar,
  resizeRgba,
  rgbaToNchw,
} from './image';

function px(img: RgbaImage, x: number, y: number): number[] {
  const i = (y * img.width + x) * 4;
  return Array.from(img.data.subarray(i, i + 4));
}

describe('resize', () => {
  it('area-averages when shrinking', () => {
    // 4×1 → 2×1: pairs average
    const out = resizePlanar(Float32Array.from([0, 2, 4, 8]), 1, 4, 1, 2, 1);
    expect(Array.from(out)).toEqual([1, 6]);
    // 3×3 → 1×1 is the mean
    const m = resizePlanar(Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]), 1, 3, 3, 1, 1);
    expect(m[0]).toBeCloseTo(5, 5);
  });
  it('bilinear with half-pixel centers when growing', () => {
    const out = resizePlanar(Float32Array.from([0, 4]), 1, 2, 1, 4, 1);
    expect(Array.from(out)).toEqual([0, 1, 3, 4]);
  });
  it('keeps a constant image constant and preserves size on identity', () => {
    const img = createRgba(7, 5, [10, 20, 30, 255]);
    const big = resizeRgba(img, 16, 9);
    const small = resizeRgba(img, 3, 2);
    for (const r of [big, small]) for (let y = 0; y < r.height; y++) for (let x = 0; x < r.width; x++) expect(px(r, x, y)).toEqual([10, 20, 30, 255]);
    expect(resizeRgba(img, 7, 5).data).toEqual(img.data);
  });
  it('upsamples masks within [0, 1]', () => {
    const mask: MaskImage = { width: 2, height: 2, data: Float32Array.from([0, 1, 1, 0]), source: 'segmenter' };
    const up = resizeMask(mask, 8, 8);
    expect(up.width).toBe(8);
    expect(up.data.every((v) => v >= 0 && v <= 1)).toBe(true);
    expect(up.data[0]).toBe(0);
    expect(up.data[7]).toBe(1);
  });
});

describe('mirrorRgba', () => {
  it('mirrors left to right, keeps every pixel, and twice is the identity', () => {
    const img = createRgba(3, 2, [255, 255, 255, 255]);
    img.data.set([10, 20, 30, 40], 0); // (0, 0)
    img.data.set([50, 60, 70, 80], (1 * 3 + 1) * 4); // (1, 1): the middle column stays
    const m = mirrorRgba(img);
    expect(px(m, 2, 0)).toEqual([10, 20, 30, 40]);
    expect(px(m, 0, 0)).toEqual([255, 255, 255, 255]);
    expect(px(m, 1, 1)).toEqual([50, 60, 70, 80]);
    expect(Array.from(mirrorRgba(m).data)).toEqual(Array.from(img.data));
    expect(img.data[0]).toBe(10); // the input is left as it was
  });
});

describe('tensors', () => {
  it('RGBA ↔ NCHW [-1, 1] round trip', () => {
    const img = createRgba(3, 2);
    for (let i = 0; i < img.data.length; i++) img.data[i] = (i * 37) % 256;
    for (let i = 3; i < img.data.length; i += 4) img.data[i] = 255;
    const t = rgbaToNchw(img);
    expect(t.length).toBe(18);
    expect(t[0]).toBeCloseTo((img.data[0] / 255) * 2 - 1, 6);
    expect(t[6]).toBeCloseTo((img.data[1] / 255) * 2 - 1, 6); // channel G starts at H·W
    expect(nchwToRgba(t, 3, 2).data).toEqual(img.data);
    expect(rgbaToNchw(img, '01')[0]).toBeCloseTo(img.data[0] / 255, 6);
  });
  it('clamps decoded images', () => {
    const out = nchwToRgba(Float32Array.from([-3, 3, 0]), 1, 1);
    expect(Array.from(out.data)).toEqual([0, 255, 128, 255]);
  });
});

describe('masks and subject compositing', () => {
  function photoWithSquare(): { photo: RgbaImage; mask: MaskImage } {
    // 40×20 photo, blue background, red 10×10 subject at (25..35, 5..15)
    const photo = createRgba(40, 20, [0, 0, 255, 255]);
    const mask: MaskImage = { width: 40, height: 20, data: new Float32Array(800), source: 'segmenter' };
    for (let y = 5; y < 15; y++) {
      for (let x = 25; x < 35; x++) {
        photo.data.set([255, 0, 0, 255], (y * 40 + x) * 4);
        mask.data[y * 40 + x] = 1;
      }
    }
    return { photo, mask };
  }
  it('finds the mask bounding box', () => {
    expect(maskBoundingBox(photoWithSquare().mask)).toEqual({ x0: 25, y0: 5, x1: 35, y1: 15 });
    expect(maskBoundingBox({ width: 2, height: 2, data: new Float32Array(4), source: 'alpha' })).toBeNull();
  });
  it('crops the subject square, centered, on white', () => {
    const { photo, mask } = photoWithSquare();
    const out = composeSubjectOnWhite(photo, mask, 24, 0.1);
    expect(out.width).toBe(24);
    expect(out.height).toBe(24);
    expect(px(out, 12, 12)).toEqual([255, 0, 0, 255]); // subject in the center
    expect(px(out, 0, 0)).toEqual([255, 255, 255, 255]); // background replaced by white
    // no blue survives anywhere
    for (let i = 0; i < out.data.length; i += 4) expect(out.data[i + 2] <= out.data[i + 1] + 1 || out.data[i] === 255).toBe(true);
  });
  it('pads with white where the square leaves the photo', () => {
    const photo = createRgba(10, 10, [0, 255, 0, 255]);
    const mask: MaskImage = { width: 10, height: 10, data: new Float32Array(100).fill(1), source: 'segmenter' };
    const out = composeSubjectOnWhite(photo, mask, 12, 0.25);
    expect(px(out, 0, 0)).toEqual([255, 255, 255, 255]);
    expect(px(out, 6, 6)).toEqual([0, 255, 0, 255]);
  });
  it('throws on an empty mask or mismatched sizes', () => {
    const { photo } = photoWithSquare();
    expect(() => composeSubjectOnWhite(photo, { width: 40, height: 20, data: new Float32Array(800), source: 'alpha' }, 16)).toThrow(/no subject/);
    expect(() => composeSubjectOnWhite(photo, { width: 4, height: 2, data: new Float32Array(8), source: 'alpha' }, 16)).toThrow(/mask is 4×2/);
  });
  it('alpha is meaningful only with both clear and solid areas', () => {
    const opaque = createRgba(10, 10, [1, 2, 3, 255]);
    expect(alphaIsMeaningful(opaque)).toBe(false);
    const clear = createRgba(10, 10, [1, 2, 3, 0]);
    expect(alphaIsMeaningful(clear)).toBe(false);
    const cut = createRgba(10, 10, [1, 2, 3, 0]);
    for (let i = 0; i < 50; i++) cut.data[i * 4 + 3] = 255;
    expect(alphaIsMeaningful(cut)).toBe(true);
    const m = maskFromAlpha(cut);
    expect(m.source).toBe('alpha');
    expect(m.data[0]).toBe(1);
    expect(m.data[99]).toBe(0);
  });
});

describe('references on white', () => {
  it('an opaque reference comes back byte for byte', () => {
    const ref = createRgba(8, 8, [10, 20, 30, 255]);
    ref.data.set([200, 100, 50, 255], 4 * 9);
    const out = flattenOnWhite(ref);
    expect(Array.from(out.data)).toEqual(Array.from(ref.data));
    expect(out.data).not.toBe(ref.data);
  });
  it('composites transparency on white, after resampling to the pack size as buildCache does', () => {
    const ref = createRgba(4, 4, [0, 0, 0, 0]);
    ref.data.set([0, 0, 0, 255], 0);
    ref.data.set([100, 0, 200, 128], 4);
    const flat = flattenOnWhite(ref);
    expect(px(flat, 0, 0)).toEqual([0, 0, 0, 255]);
    expect(px(flat, 1, 0)).toEqual([177, 127, 227, 255]);
    expect(px(flat, 3, 3)).toEqual([255, 255, 255, 255]);
    const small = flattenOnWhite(resizeRgba(createRgba(4, 4, [0, 0, 0, 255]), 2, 2));
    expect([small.width, small.height]).toEqual([2, 2]);
    expect(px(small, 1, 1)).toEqual([0, 0, 0, 255]);
  });
  it('refuses an image whose data does not match its size', () => {
    expect(() => flattenOnWhite({ width: 2, height: 2, data: new Uint8ClampedArray(4) })).toThrow(/reference data/);
  });
});
