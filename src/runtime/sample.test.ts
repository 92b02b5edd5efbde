import { describe, expect, it } from 'vitest';
import { CancelledError } from './errors';
import { planGuidance } from './guidance';
import { sampleLatent, type UnetBatch } from './sample';
import { alphasCumprod, createScheduler, type Scheduler } from './schedulers';

const cfg = { numTrainTimesteps: 1000, betaSchedule: 'scaled_linear' as const, betaStart: 0.00085, betaEnd: 0.012 };
const ac = alphasCumprod(cfg);

/** The exact ε-prediction when every training image is μ: ε = (x − √ᾱ·μ)/√(1−ᾱ). */
function exactEps(mu: Float32Array, b: UnetBatch): Float32Array {
  const n = mu.length;
  const out = new Float32Array(b.sample.length);
  const t = b.timestep[0];
  for (let r = 0; r < b.batch; r++) {
    for (let k = 0; k < n; k++) out[r * n + k] = (b.sample[r * n + k] - Math.sqrt(ac[t]) * mu[k]) / Math.sqrt(1 - ac[t]);
  }
  return out;
}

describe('sampleLatent', () => {
  const mu = Float32Array.from([0.5, -1.2, 2, 0.1]);
  for (const name of ['ddim', 'dpmpp2m'] as const) {
    it(`${name} follows the exact ODE of a point-mass denoiser through 3-row guidance`, async () => {
      const calls: UnetBatch[] = [];
      const xT = Float32Array.from([1.3, -0.4, 0.9, -2.1]);
      const out = await sampleLatent({
        scheduler: createScheduler(name, cfg),
        steps: name === 'ddim' ? 50 : 20,
        initialLatent: xT.slice(),
        plan: planGuidance(true, 'combined'),
        textScale: 7.5,
        imageScale: 3,
        runUnet: async (b) => {
          calls.push(b);
          return exactEps(mu, b);
        },
        isCancelled: () => false,
      });
      // x_t = √ᾱ_t·μ + √(1−ᾱ_t)·ε0 along the whole path. DPM-Solver++ ends at σ = 0, i.e. on μ;
      // DDIM (set_alpha_to_one false) ends at ᾱ_0 and keeps that last bit of ε0.
      const t0 = calls[0].timestep[0];
      const aEnd = name === 'ddim' ? ac[0] : 1;
      out.forEach((v, k) => {
        const eps0 = (xT[k] - Math.sqrt(ac[t0]) * mu[k]) / Math.sqrt(1 - ac[t0]);
        expect(v).toBeCloseTo(Math.sqrt(aEnd) * mu[k] + Math.sqrt(1 - aEnd) * eps0, 4);
      });
      expect(calls.length).toBe(name === 'ddim' ? 50 : 20);
      expect(calls[0].batch).toBe(3);
      expect(Array.from(calls[0].gates)).toEqual([0, 1, 1]);
      expect(calls[0].usePrompt).toEqual([false, false, true]);
      expect(calls[0].sample.length).toBe(12);
    });
  }

  it('ramps sI linearly from imageScale at the first step to imageScaleEnd at the last', async () => {
    // e_u = 0, e_i = e_c = 1: the guided prediction is sI itself, step by step.
    const seen = async (imageScaleEnd?: number): Promise<number[]> => {
      const ddim = createScheduler('ddim', cfg);
      const guided: number[] = [];
      const spy: Scheduler = {
        name: ddim.name,
        get timesteps() { return ddim.timesteps; },
        initNoiseSigma: ddim.initNoiseSigma,
        setTimesteps: (n) => ddim.setTimesteps(n),
        step: (eps, t, x) => { guided.push(eps[0]); return ddim.step(eps, t, x); },
      };
      await sampleLatent({
        scheduler: spy,
        steps: 25,
        initialLatent: new Float32Array(1),
        plan: planGuidance(true, 'combined'),
        textScale: 7.5,
        imageScale: 12,
        imageScaleEnd,
        runUnet: async () => Float32Array.from([0, 1, 1]),
        isCancelled: () => false,
      });
      return guided;
    };
    const ramp = await seen(6);
    expect(ramp.length).toBe(25);
    expect(ramp[0]).toBeCloseTo(12, 5);
    expect(ramp[24]).toBeCloseTo(6, 5);
    expect(ramp[12]).toBeCloseTo(9, 5);
    ramp.slice(1).forEach((v, i) => expect(v - ramp[i]).toBeCloseTo(-0.25, 5));
    expect(await seen()).toEqual(new Array(25).fill(12));
  });

  it('stops within one step when cancelled, with CancelledError', async () => {
    let cancelled = false;
    let calls = 0;
    const p = sampleLatent({
      scheduler: createScheduler('ddim', cfg),
      steps: 50,
      initialLatent: new Float32Array(4),
      plan: planGuidance(false, 'combined'),
      textScale: 7.5,
      imageScale: 1,
      runUnet: async (b) => {
        calls++;
        if (calls === 3) cancelled = true; // cancel arrives while the third call runs
        return exactEps(mu, b);
      },
      isCancelled: () => cancelled,
    });
    await expect(p).rejects.toBeInstanceOf(CancelledError);
    expect(calls).toBe(3);
  });

  it('lets timers and messages run between steps (so a worker sees cancel)', async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    await sampleLatent({
      scheduler: createScheduler('ddim', cfg),
      steps: 20,
      initialLatent: new Float32Array(4),
      plan: planGuidance(false, 'joint'),
      textScale: 1,
      imageScale: 1,
      runUnet: async (b) => {
        // Like a real U-Net call: synchronous compute that takes time (so the timer is due),
        // resolved through microtasks only (as ORT's wasm runs are).
        const until = performance.now() + 2;
        while (performance.now() < until);
        return exactEps(mu, b);
      },
      isCancelled: () => false,
    });
    clearInterval(timer);
    expect(ticks).toBeGreaterThan(0);
  });
});
