import { describe, expect, it } from 'vitest';
import { flipAverage, flipPlanar } from './mask-flip';

describe('flipAverage', () => {
  it('is symmetric under swapping its inputs and mirroring, and the identity for an equivariant net', () => {
    const w = 5;
    const h = 3;
    const p = Float32Array.from({ length: w * h }, (_, i) => ((i * 7) % 11) / 11);
    const q = Float32Array.from({ length: w * h }, (_, i) => ((i * 5) % 13) / 13);
    const mirror = (m: Float32Array) => flipPlanar(m, 1, w, h);
    expect(Array.from(mirror(flipAverage(p, q, w, h)))).toEqual(Array.from(flipAverage(q, p, w, h)));
    expect(Array.from(flipAverage(p, mirror(p), w, h))).toEqual(Array.from(p));
  });
  it('averages a pixel with its mirror partner', () => {
    const a = flipAverage(Float32Array.from([1, 0, 0]), Float32Array.from([0, 0, 1]), 3, 1);
    expect(Array.from(a)).toEqual([1, 0, 0]);
    const b = flipAverage(Float32Array.from([1, 0, 0]), Float32Array.from([1, 0, 0]), 3, 1);
    expect(Array.from(b)).toEqual([0.5, 0, 0.5]);
  });
  it('refuses sizes that do not match', () => {
    expect(() => flipAverage(new Float32Array(6), new Float32Array(5), 3, 2)).toThrow(RangeError);
  });
});

describe('flipPlanar', () => {
  it('mirrors every channel row', () => {
    expect(Array.from(flipPlanar(Float32Array.from([1, 2, 3, 4, 5, 6]), 2, 3, 1))).toEqual([3, 2, 1, 6, 5, 4]);
    expect(() => flipPlanar(new Float32Array(5), 2, 3, 1)).toThrow(RangeError);
  });
});
