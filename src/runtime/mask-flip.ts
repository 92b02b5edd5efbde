// Flip test-time augmentation for the segmenter (issue 3): the mean of the photo's mask and the
// mirrored photo's mask, mirrored back. It raised IoU on training subjects × training scenes, and
// then on held-out ones (training/scripts/seg_post_eval.py, docs/evaluation.md); dropping small
// components and filling holes lowered it there, so the app does neither.

function checkSize(n: number, width: number, height: number, what: string): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0 || n !== width * height) {
    throw new RangeError(`${what} has ${n} values, expected ${width}×${height}`);
  }
}

/** Mean of prob and the segmenter's output on the mirrored image (still mirrored), mirrored back. */
export function flipAverage(prob: Float32Array, flippedProb: Float32Array, width: number, height: number): Float32Array {
  checkSize(prob.length, width, height, 'prob');
  checkSize(flippedProb.length, width, height, 'flipped prob');
  const out = new Float32Array(prob.length);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) out[row + x] = 0.5 * (prob[row + x] + flippedProb[row + width - 1 - x]);
  }
  return out;
}

/** Mirrors a planar [C, H, W] image left–right (the segmenter's second input for flipAverage). */
export function flipPlanar(planar: Float32Array, channels: number, width: number, height: number): Float32Array {
  checkSize(planar.length, channels * width, height, 'planar image');
  const out = new Float32Array(planar.length);
  for (let r = 0; r < channels * height; r++) {
    const row = r * width;
    for (let x = 0; x < width; x++) out[row + x] = planar[row + width - 1 - x];
  }
  return out;
}
