// Noise schedules and the two samplers. Pure float64 math over Float32Array latents.
// DDIM follows Stable Diffusion 1.5's scheduler config (leading spacing, steps_offset 1,
// set_alpha_to_one false, eta 0); DPM-Solver++(2M) uses linspace spacing, a zero final sigma
// and a first-order final step, as diffusers does on that config.
import { InputError } from './errors';
import type { PackManifest } from './pack';
import type { SchedulerName } from './engine-types';

export type NoiseConfig = Pick<PackManifest['scheduler'], 'numTrainTimesteps' | 'betaSchedule' | 'betaStart' | 'betaEnd'>;

export function makeBetas(cfg: NoiseConfig): Float64Array {
  const T = cfg.numTrainTimesteps;
  const out = new Float64Array(T);
  const scaled = cfg.betaSchedule === 'scaled_linear';
  const a = scaled ? Math.sqrt(cfg.betaStart) : cfg.betaStart;
  const b = scaled ? Math.sqrt(cfg.betaEnd) : cfg.betaEnd;
  for (let i = 0; i < T; i++) {
    const v = linspaceAt(a, b, T, i);
    out[i] = scaled ? v * v : v;
  }
  return out;
}

export function alphasCumprod(cfg: NoiseConfig): Float64Array {
  const betas = makeBetas(cfg);
  const out = new Float64Array(betas.length);
  let p = 1;
  for (let i = 0; i < betas.length; i++) {
    p *= 1 - betas[i];
    out[i] = p;
  }
  return out;
}

/** numpy.linspace's i-th value (start + i·step, the last one exactly `stop`). */
function linspaceAt(start: number, stop: number, num: number, i: number): number {
  if (num > 1 && i === num - 1) return stop;
  const step = num > 1 ? (stop - start) / (num - 1) : 0;
  return i * step + start;
}

/** Round half to even, like numpy.round, so timesteps match the Python reference exactly. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x - Math.trunc(x)) === 0.5 ? 2 * Math.round(x / 2) : r;
}

/** q(x_t | x_0): sqrt(ᾱ_t)·x0 + sqrt(1−ᾱ_t)·ε. */
export function addNoise(x0: Float32Array, noise: Float32Array, t: number, ac: Float64Array): Float32Array {
  const a = ac[t];
  const sa = Math.sqrt(a);
  const sb = Math.sqrt(1 - a);
  const out = new Float32Array(x0.length);
  for (let i = 0; i < x0.length; i++) out[i] = sa * x0[i] + sb * noise[i];
  return out;
}

export interface StepResult {
  prevSample: Float32Array;
  /** x̂0, the model's current estimate of the clean latent (used for previews). */
  predOriginal: Float32Array;
}

export interface Scheduler {
  readonly name: SchedulerName;
  readonly timesteps: readonly number[];
  readonly initNoiseSigma: number;
  setTimesteps(n: number): void;
  step(eps: Float32Array, t: number, sample: Float32Array): StepResult;
}

function checkSteps(n: number, T: number): void {
  if (!Number.isInteger(n) || n < 1 || n > T) throw new InputError(`steps must be an integer in [1, ${T}], got ${n}`);
}

export class DdimScheduler implements Scheduler {
  readonly name = 'ddim' as const;
  readonly initNoiseSigma = 1;
  readonly stepsOffset = 1;
  private readonly ac: Float64Array;
  private readonly finalAlphaCumprod: number;
  private stepRatio = 0;
  timesteps: number[] = [];

  constructor(private readonly cfg: NoiseConfig) {
    this.ac = alphasCumprod(cfg);
    this.finalAlphaCumprod = this.ac[0];
  }

  setTimesteps(n: number): void {
    const T = this.cfg.numTrainTimesteps;
    checkSteps(n, T);
    this.stepRatio = Math.floor(T / n);
    const ts: number[] = [];
    for (let i = n - 1; i >= 0; i--) ts.push(roundHalfEven(i * this.stepRatio) + this.stepsOffset);
    this.timesteps = ts;
  }

  step(eps: Float32Array, t: number, sample: Float32Array): StepResult {
    if (this.timesteps.length === 0) throw new InputError('call setTimesteps() before step()');
    const a = this.ac[t];
    const prevT = t - this.stepRatio;
    const aPrev = prevT >= 0 ? this.ac[prevT] : this.finalAlphaCumprod;
    const sa = Math.sqrt(a);
    const sb = Math.sqrt(1 - a);
    const sap = Math.sqrt(aPrev);
    const sbp = Math.sqrt(1 - aPrev);
    const prev = new Float32Array(sample.length);
    const x0 = new Float32Array(sample.length);
    for (let i = 0; i < sample.length; i++) {
      const e = eps[i];
      const p = (sample[i] - sb * e) / sa;
      x0[i] = p;
      prev[i] = sap * p + sbp * e;
    }
    return { prevSample: prev, predOriginal: x0 };
  }
}

export class DpmSolverPP2MScheduler implements Scheduler {
  readonly name = 'dpmpp2m' as const;
  readonly initNoiseSigma = 1;
  private readonly ac: Float64Array;
  timesteps: number[] = [];
  /** noise-to-signal σ per step, plus the final 0. */
  private sigmas: number[] = [];
  private stepIndex = 0;
  /** x̂0 of the previous step, in float64 so the multistep difference keeps its precision. */
  private prevX0: Float64Array | null = null;

  constructor(private readonly cfg: NoiseConfig) {
    this.ac = alphasCumprod(cfg);
  }

  setTimesteps(n: number): void {
    const T = this.cfg.numTrainTimesteps;
    checkSteps(n, T);
    const ts: number[] = [];
    for (let i = n; i >= 1; i--) ts.push(roundHalfEven(linspaceAt(0, T - 1, n + 1, i)));
    this.timesteps = ts;
    this.sigmas = ts.map((t) => Math.sqrt((1 - this.ac[t]) / this.ac[t]));
    this.sigmas.push(0);
    this.stepIndex = 0;
    this.prevX0 = null;
  }

  step(eps: Float32Array, t: number, sample: Float32Array): StepResult {
    if (this.timesteps.length === 0) throw new InputError('call setTimesteps() before step()');
    // Steps are consumed in order; a timestep out of sequence means a caller bug.
    const i = this.timesteps[this.stepIndex] === t ? this.stepIndex : this.timesteps.indexOf(t);
    if (i < 0) throw new InputError(`timestep ${t} is not in this schedule`);
    const alphaSigma = (s: number): [number, number] => {
      const alpha = 1 / Math.sqrt(s * s + 1);
      return [alpha, s * alpha];
    };
    const lambda = (s: number): number => {
      const [a, sg] = alphaSigma(s);
      return Math.log(a) - Math.log(sg);
    };
    const [aS, sS] = alphaSigma(this.sigmas[i]);
    const x0 = new Float64Array(sample.length);
    for (let k = 0; k < sample.length; k++) x0[k] = (sample[k] - sS * eps[k]) / aS;

    const prev = new Float32Array(sample.length);
    const sigmaNext = this.sigmas[i + 1];
    const last = i === this.timesteps.length - 1;
    if (sigmaNext === 0) {
      // α=1, σ=0, e^{-h}=0: the update lands on x̂0 itself.
      for (let k = 0; k < prev.length; k++) prev[k] = x0[k];
    } else {
      const [aT, sT] = alphaSigma(sigmaNext);
      const h = lambda(sigmaNext) - lambda(this.sigmas[i]);
      const c1 = sT / sS;
      const c2 = aT * (Math.exp(-h) - 1);
      if (this.prevX0 === null || i === 0 || last) {
        for (let k = 0; k < prev.length; k++) prev[k] = c1 * sample[k] - c2 * x0[k];
      } else {
        const h0 = lambda(this.sigmas[i]) - lambda(this.sigmas[i - 1]);
        const r0 = h0 / h;
        const m1 = this.prevX0;
        for (let k = 0; k < prev.length; k++) {
          const d1 = (x0[k] - m1[k]) / r0;
          prev[k] = c1 * sample[k] - c2 * x0[k] - 0.5 * c2 * d1;
        }
      }
    }
    this.prevX0 = x0;
    this.stepIndex = i + 1;
    return { prevSample: prev, predOriginal: Float32Array.from(x0) };
  }
}

export const DEFAULT_STEPS: Record<SchedulerName, number> = { ddim: 50, dpmpp2m: 20 };

export function createScheduler(name: SchedulerName, cfg: NoiseConfig): Scheduler {
  if (name === 'ddim') return new DdimScheduler(cfg);
  if (name === 'dpmpp2m') return new DpmSolverPP2MScheduler(cfg);
  throw new InputError(`unknown scheduler "${String(name)}"`);
}
