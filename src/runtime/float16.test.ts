import { describe, expect, it } from 'vitest';
import { decodeHalf, encodeHalf, float32ToHalfBits, halfBitsToFloat32, roundToHalfInPlace } from './float16';

describe('float16', () => {
  it('encodes known values', () => {
    expect(float32ToHalfBits(1)).toBe(0x3c00);
    expect(float32ToHalfBits(-2)).toBe(0xc000);
    expect(float32ToHalfBits(65504)).toBe(0x7bff);
    expect(float32ToHalfBits(65520)).toBe(0x7c00); // rounds up to Inf
    expect(float32ToHalfBits(5.960464477539063e-8)).toBe(0x0001);
    expect(float32ToHalfBits(0.1)).toBe(0x2e66);
    expect(float32ToHalfBits(1 + 2 ** -11)).toBe(0x3c00); // tie → even
    expect(float32ToHalfBits(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie → even (up)
    expect(Number.isNaN(halfBitsToFloat32(float32ToHalfBits(NaN)))).toBe(true);
  });
  it('round-trips every half value exactly', () => {
    const wrong: number[] = [];
    for (let h = 0; h < 0x10000; h++) {
      const v = halfBitsToFloat32(h);
      if (!Number.isNaN(v) && float32ToHalfBits(v) !== h) wrong.push(h);
    }
    expect(wrong).toEqual([]);
  });
  it('rounding is idempotent and encode/decode is then lossless', () => {
    const x = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i) * 10 ** ((i % 9) - 4));
    const r = roundToHalfInPlace(x.slice());
    expect(roundToHalfInPlace(r.slice())).toEqual(r);
    expect(decodeHalf(encodeHalf(r))).toEqual(r);
  });
});
