// Pure pixel math for the mask preview: background dimmed and tinted, subject untouched,
// so the person can see at a glance what the segmenter kept.
import type { MaskImage, RgbaImage } from '../runtime/engine-types';

const TINT: [number, number, number] = [40, 48, 88];
const KEEP_OF_BACKGROUND = 0.28;

export function maskOverlay(photo: RgbaImage, mask: MaskImage): RgbaImage {
  if (photo.width !== mask.width || photo.height !== mask.height) {
    throw new Error(`mask is ${mask.width}×${mask.height} but the photo is ${photo.width}×${photo.height}`);
  }
  const out = new Uint8ClampedArray(photo.data.length);
  for (let i = 0, p = 0; i < mask.data.length; i++, p += 4) {
    const m = Math.min(1, Math.max(0, mask.data[i]));
    const a = photo.data[p + 3] / 255;
    for (let c = 0; c < 3; c++) {
      // Transparent photo pixels show as a light checker-free grey so alpha cut-outs read clearly.
      const v = photo.data[p + c] * a + 200 * (1 - a);
      const background = v * KEEP_OF_BACKGROUND + TINT[c] * (1 - KEEP_OF_BACKGROUND);
      out[p + c] = m * v + (1 - m) * background;
    }
    out[p + 3] = 255;
  }
  return { width: photo.width, height: photo.height, data: out };
}
