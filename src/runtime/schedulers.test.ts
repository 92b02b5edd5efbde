import { describe, expect, it } from 'vitest';
import fixtures from './__fixtures__/scheduler-fixtures.json';
import { alphasCumprod, createScheduler, DdimScheduler, type NoiseConfig } from './schedulers';
import type { SchedulerName } from './engine-types';

// Same toy model as make_scheduler_fixtures.py: drives whole trajectories through the solvers.
function toyEps(x: Float32Array, t: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let k = 0; k < x.length; k++) out[k] = Math.sin(0.7 * x[k] + t / 1000 + k) * 0.9 + 0.1 * Math.cos(1.3 * k + 0.002 * t);
  return out;
}

const configs = fixtures.configs as unknown as Record<string, NoiseConfig & { alphasCumprodSamples: Record<string, number> }>;

describe('noise schedules', () => {
  for (const [name, cfg] of Object.entries(configs)) {
    it(`alphas_cumprod (${name}) match the float64 reference`, () => {
      const ac = alphasCumprod(cfg);
      for (const [t, v] of Object.entries(cfg.alphasCumprodSamples)) expect(ac[Number(t)]).toBeCloseTo(v, 12);
    });
  }
});

describe('schedulers against the float64 reference', () => {
  for (const c of fixtures.cases) {
    it(`${c.scheduler} ${c.config} ${c.steps} steps`, () => {
      const s = createScheduler(c.scheduler as SchedulerName, configs[c.config]);
      s.setTimesteps(c.steps);
      expect([...s.timesteps]).toEqual(c.timesteps);
      let x: Float32Array = Float32Array.from(fixtures.xInit);
      s.timesteps.forEach((t, i) => {
        const { prevSample, predOriginal } = s.step(toyEps(x, t), t, x);
        for (let k = 0; k < x.length; k++) {
          expect(Math.abs(prevSample[k] - c.trajectory[i][k])).toBeLessThan(1e-5 * Math.max(1, Math.abs(c.trajectory[i][k])));
          expect(Math.abs(predOriginal[k] - c.predOriginal[i][k])).toBeLessThan(1e-5 * Math.max(1, Math.abs(c.predOriginal[i][k])));
        }
        x = prevSample;
      });
    });
  }

  it('DDIM with 50 steps uses SD 1.5 leading spacing 981 … 1', () => {
    const s = new DdimScheduler(configs.sd15);
    s.setTimesteps(50);
    expect(s.timesteps[0]).toBe(981);
    expect(s.timesteps.at(-1)).toBe(1);
    expect(s.timesteps.length).toBe(50);
  });

  it('rejects step counts outside [1, T]', () => {
    const s = createScheduler('ddim', configs.sd15);
    expect(() => s.setTimesteps(0)).toThrow(/steps/);
    expect(() => s.setTimesteps(1001)).toThrow(/steps/);
    expect(() => s.setTimesteps(2.5)).toThrow(/steps/);
  });

  it('DPM-Solver++ restarts its history on setTimesteps', () => {
    const s = createScheduler('dpmpp2m', configs.sd15);
    const x = Float32Array.from(fixtures.xInit);
    const run = () => {
      s.setTimesteps(5);
      let y: Float32Array = x;
      for (const t of s.timesteps) y = s.step(toyEps(y, t), t, y).prevSample;
      return y;
    };
    expect(run()).toEqual(run());
  });
});
