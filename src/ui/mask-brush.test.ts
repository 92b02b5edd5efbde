import { describe, expect, it } from 'vitest';
import { brushRadius, paintDisc, paintStroke, pointOnContainedImage } from './mask-brush';

const at = (d: Float32Array, w: number, x: number, y: number) => d[y * w + x];

describe('paintDisc', () => {
  it('keeps a disc: full inside, untouched outside, soft one-pixel edge', () => {
    const d = new Float32Array(21 * 21);
    paintDisc(d, 21, 21, { x: 10.5, y: 10.5 }, 5, true);
    expect(at(d, 21, 10, 10)).toBe(1);
    expect(at(d, 21, 13, 10)).toBe(1);
    expect(at(d, 21, 17, 10)).toBe(0);
    expect(at(d, 21, 0, 0)).toBe(0);
    const edge = at(d, 21, 15, 10); // centre 5 px away: half covered
    expect(edge).toBeGreaterThan(0);
    expect(edge).toBeLessThan(1);
  });

  it('removes without raising anything, and never lowers when keeping', () => {
    const d = new Float32Array(11 * 11).fill(0.7);
    paintDisc(d, 11, 11, { x: 5.5, y: 5.5 }, 2, false);
    expect(at(d, 11, 5, 5)).toBe(0);
    expect(at(d, 11, 0, 0)).toBeCloseTo(0.7);
    paintDisc(d, 11, 11, { x: 0.5, y: 0.5 }, 0.5, true);
    expect(at(d, 11, 0, 0)).toBe(1);
    expect(Math.max(...d)).toBe(1);
  });

  it('clips at the borders', () => {
    const d = new Float32Array(4 * 3);
    paintDisc(d, 4, 3, { x: -1, y: 1 }, 2.2, true);
    expect(at(d, 4, 0, 1)).toBe(1);
    expect(at(d, 4, 3, 1)).toBe(0);
  });
});

describe('paintStroke', () => {
  it('leaves no gap along a fast drag', () => {
    const w = 100;
    const d = new Float32Array(w * 10);
    paintStroke(d, w, 10, { x: 2, y: 5 }, { x: 97, y: 5 }, 2, true);
    for (let x = 2; x < 97; x++) expect(at(d, w, x, 5)).toBe(1);
  });
});

describe('pointOnContainedImage', () => {
  const box = { left: 10, top: 20, width: 400, height: 200 }; // a 100×100 image shows 200×200, centred
  it('maps through the contain scale and letterbox offset', () => {
    expect(pointOnContainedImage(box, 100, 100, 110, 20)).toEqual({ x: 0, y: 0 });
    expect(pointOnContainedImage(box, 100, 100, 210, 120)).toEqual({ x: 50, y: 50 });
  });
  it('is null over the letterbox', () => {
    expect(pointOnContainedImage(box, 100, 100, 50, 100)).toBeNull();
  });
});

describe('brushRadius', () => {
  it('scales with the shorter side', () => {
    expect(brushRadius(640, 480, 5)).toBe(24);
    expect(brushRadius(10, 10, 1)).toBe(1);
  });
});
