// Seeded Gaussian noise that is bit-identical in every JS engine: xoshiro128** for uniforms and
// the Marsaglia polar method with a logarithm built from + − × ÷ only (IEEE-exact everywhere),
// because Math.log may differ in the last bit between engines.

function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

export class SeededRandom {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  private spare: number | null = null;

  /** `seed` is any integer; values outside 32 bits fold in their high part. */
  constructor(seed: number) {
    if (!Number.isFinite(seed)) throw new RangeError(`seed must be a finite number, got ${seed}`);
    const hi = Math.floor(Math.abs(seed) / 4294967296) >>> 0;
    const mix = splitmix32((seed >>> 0) ^ Math.imul(hi, 0x27d4eb2d) ^ (seed < 0 ? 0x5bd1e995 : 0));
    this.s0 = mix();
    this.s1 = mix();
    this.s2 = mix();
    this.s3 = mix();
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** xoshiro128** next 32-bit output. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  nextFloat(): number {
    const a = this.nextUint32() >>> 5;
    const b = this.nextUint32() >>> 6;
    return (a * 67108864 + b) / 9007199254740992;
  }

  nextGaussian(): number {
    if (this.spare !== null) {
      const v = this.spare;
      this.spare = null;
      return v;
    }
    for (;;) {
      const u = 2 * this.nextFloat() - 1;
      const v = 2 * this.nextFloat() - 1;
      const s = u * u + v * v;
      if (s >= 1 || s === 0) continue;
      const f = Math.sqrt((-2 * exactLog(s)) / s);
      this.spare = v * f;
      return u * f;
    }
  }

  gaussian(n: number): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.nextGaussian();
    return out;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

const LN2 = 0.6931471805599453;
const scratch = new DataView(new ArrayBuffer(8));

/** Natural log for x in (0, 1] from basic arithmetic only (max error ~1 ulp of the series). */
export function exactLog(x: number): number {
  scratch.setFloat64(0, x);
  const hi = scratch.getUint32(0);
  let e = ((hi >>> 20) & 0x7ff) - 1023;
  // mantissa m in [1, 2)
  scratch.setUint32(0, (hi & 0x800fffff) | (1023 << 20));
  let m = scratch.getFloat64(0);
  if (e === -1023) {
    // subnormals cannot come out of the polar method's s (≥ 2^-106), but stay correct anyway
    return exactLog(x * 4503599627370496) - 52 * LN2;
  }
  if (m > 1.4142135623730951) {
    m /= 2;
    e += 1;
  }
  // log(m) = 2·atanh(z), z = (m−1)/(m+1) ∈ [−0.172, 0.172]
  const z = (m - 1) / (m + 1);
  const z2 = z * z;
  let term = z;
  let sum = 0;
  for (let k = 1; k <= 41; k += 2) {
    sum += term / k;
    term *= z2;
  }
  return 2 * sum + e * LN2;
}

/** N(0, 1) noise of length n for `seed`; the same numbers in browser and Node. */
export function gaussianNoise(seed: number, n: number): Float32Array {
  return new SeededRandom(seed).gaussian(n);
}
