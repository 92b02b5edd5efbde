// Pure pixel math for touching up a mask by hand: the segmenter is small and misses, so the
// person paints what to keep or leave out. Edits happen in place (masks are up to 1024² floats).

export interface Point {
  x: number;
  y: number;
}

/**
 * Stamps one disc: keep → the mask rises to the brush's coverage, remove → falls to 1 − coverage.
 * The edge is one pixel soft so strokes do not leave jagged cut-out borders.
 */
export function paintDisc(data: Float32Array, width: number, height: number, c: Point, radius: number, keep: boolean): void {
  const r = Math.max(0.5, radius);
  const x0 = Math.max(0, Math.floor(c.x - r - 1));
  const x1 = Math.min(width - 1, Math.ceil(c.x + r + 1));
  const y0 = Math.max(0, Math.floor(c.y - r - 1));
  const y1 = Math.min(height - 1, Math.ceil(c.y + r + 1));
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      // pixel centres at +0.5
      const d = Math.hypot(x + 0.5 - c.x, y + 0.5 - c.y);
      const cover = Math.min(1, Math.max(0, r + 0.5 - d));
      if (cover <= 0) continue;
      const i = y * width + x;
      data[i] = keep ? Math.max(data[i], cover) : Math.min(data[i], 1 - cover);
    }
  }
}

/** A stroke segment: discs every third of a radius from `from` to `to`, so fast drags leave no gaps. */
export function paintStroke(data: Float32Array, width: number, height: number, from: Point, to: Point, radius: number, keep: boolean): void {
  const len = Math.hypot(to.x - from.x, to.y - from.y);
  const n = Math.max(1, Math.ceil(len / Math.max(0.5, radius / 3)));
  for (let k = 0; k <= n; k++) {
    const t = k / n;
    paintDisc(data, width, height, { x: from.x + (to.x - from.x) * t, y: from.y + (to.y - from.y) * t }, radius, keep);
  }
}

/**
 * Where a pointer is on an image drawn with `object-fit: contain` into `box` (the element's
 * client rectangle): image pixel coordinates, or null over the letterbox.
 */
export function pointOnContainedImage(
  box: { left: number; top: number; width: number; height: number },
  imageWidth: number,
  imageHeight: number,
  clientX: number,
  clientY: number,
): Point | null {
  const scale = Math.min(box.width / imageWidth, box.height / imageHeight);
  if (!(scale > 0)) return null;
  const x = (clientX - box.left - (box.width - imageWidth * scale) / 2) / scale;
  const y = (clientY - box.top - (box.height - imageHeight * scale) / 2) / scale;
  return x < 0 || y < 0 || x > imageWidth || y > imageHeight ? null : { x, y };
}

/** Brush radius in image pixels for a size in percent of the image's shorter side. */
export function brushRadius(width: number, height: number, percent: number): number {
  return Math.max(1, (Math.min(width, height) * percent) / 100);
}
