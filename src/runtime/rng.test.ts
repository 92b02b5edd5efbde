import { describe, expect, it } from 'vitest';
import { exactLog, gaussianNoise, SeededRandom } from './rng';

describe('seeded RNG', () => {
  it('is deterministic per seed and differs across seeds', () => {
    expect(gaussianNoise(42, 1000)).toEqual(gaussianNoise(42, 1000));
    expect(gaussianNoise(42, 1000)).not.toEqual(gaussianNoise(43, 1000));
    expect(gaussianNoise(2 ** 32 + 42, 16)).not.toEqual(gaussianNoise(42, 16));
    expect(gaussianNoise(-42, 16)).not.toEqual(gaussianNoise(42, 16));
  });
  it('pins the sequence so browser and Node (and future edits) agree', () => {
    const r = new SeededRandom(1);
    const u = [r.nextUint32(), r.nextUint32(), r.nextUint32()];
    // xoshiro128** words checked against an independent Python implementation (same splitmix32 seeding);
    // change only deliberately: every cache and image depends on this sequence
    expect(u).toMatchInlineSnapshot(`
      [
        2442144158,
        3238099751,
        3819917871,
      ]
    `);
    expect(Array.from(gaussianNoise(7, 4))).toMatchInlineSnapshot(`
      [
        -1.5370383262634277,
        -0.29499784111976624,
        2.7798852920532227,
        0.5592582821846008,
      ]
    `);
  });
  it('has standard normal moments', () => {
    const x = gaussianNoise(123, 200_000);
    let m = 0;
    let v = 0;
    let k = 0;
    for (const a of x) m += a;
    m /= x.length;
    for (const a of x) {
      v += (a - m) ** 2;
      k += (a - m) ** 4;
    }
    v /= x.length;
    k /= x.length * v * v;
    expect(Math.abs(m)).toBeLessThan(0.01);
    expect(Math.abs(v - 1)).toBeLessThan(0.01);
    expect(Math.abs(k - 3)).toBeLessThan(0.05);
  });
  it('uniforms lie in [0, 1)', () => {
    const r = new SeededRandom(5);
    for (let i = 0; i < 10000; i++) {
      const u = r.nextFloat();
      expect(u >= 0 && u < 1).toBe(true);
    }
  });
  it('exactLog matches Math.log to ~1e-15 relative', () => {
    for (const x of [1, 0.5, 0.999999, 1e-3, 1e-30, 0.7071, 0.25, 3e-310]) {
      expect(Math.abs(exactLog(x) - Math.log(x))).toBeLessThanOrEqual(1e-14 * Math.max(1, Math.abs(Math.log(x))));
    }
  });
});
