import { describe, expect, it } from 'vitest';
import { applyGuidance, combineThreeBranch, combineTwoBranch, imageScaleAt, planGuidance } from './guidance';

const f = (...v: number[]) => Float32Array.from(v);

describe('guidance', () => {
  it('three-branch formula e_u + sT(e_c − e_i) + sI(e_i − e_u)', () => {
    const out = combineThreeBranch(f(1, 0), f(2, 1), f(4, -1), 7.5, 0.5);
    expect(out[0]).toBeCloseTo(1 + 7.5 * (4 - 2) + 0.5 * (2 - 1), 6);
    expect(out[1]).toBeCloseTo(0 + 7.5 * (-1 - 1) + 0.5 * (1 - 0), 6);
  });
  it('reduces to plain CFG when e_i = e_u and to e_c when sT = 1, sI = 1', () => {
    const eU = f(0.3, -0.2);
    const eC = f(1.1, 0.4);
    expect(combineThreeBranch(eU, eU, eC, 5, 3)).toEqual(combineTwoBranch(eU, eC, 5));
    const eI = f(0.7, 0.9);
    const out = combineThreeBranch(eU, eI, eC, 1, 1);
    out.forEach((v, i) => expect(v).toBeCloseTo(eC[i], 6));
  });
  it('sI per step: constant without an end, a straight ramp with one (as sampler.py image_scales)', () => {
    // training/tests/test_models.py checks image_scales on the same ramp, reversed
    expect([0, 1, 2, 3, 4].map((i) => imageScaleAt(i, 5, 12, 6))).toEqual([12, 10.5, 9, 7.5, 6]);
    expect([0, 1, 2].map((i) => imageScaleAt(i, 3, 9))).toEqual([9, 9, 9]);
    expect(imageScaleAt(0, 1, 12, 6)).toBe(12); // one step: the start
  });
  it('two-branch formula e_u + sT(e_c − e_u)', () => {
    expect(combineTwoBranch(f(1), f(3), 2)[0]).toBe(5);
  });
  it('plans rows and gates for each mode', () => {
    expect(planGuidance(true, 'combined')).toEqual({
      useCache: true,
      rows: [
        { branch: 'u', gate: 0, usePrompt: false },
        { branch: 'i', gate: 1, usePrompt: false },
        { branch: 'c', gate: 1, usePrompt: true },
      ],
    });
    expect(planGuidance(true, 'joint').rows.map((r) => [r.branch, r.gate, r.usePrompt])).toEqual([
      ['u', 0, false],
      ['c', 1, true],
    ]);
    const plain = planGuidance(false, 'combined');
    expect(plain.useCache).toBe(false);
    expect(plain.rows.map((r) => [r.branch, r.gate, r.usePrompt])).toEqual([
      ['u', 0, false],
      ['c', 0, true],
    ]);
  });
  it('splits a batched prediction by rows', () => {
    const batched = f(1, 0, 2, 1, 4, -1); // rows u, i, c of 2 values each
    expect(applyGuidance(planGuidance(true, 'combined'), batched, 7.5, 0.5)).toEqual(combineThreeBranch(f(1, 0), f(2, 1), f(4, -1), 7.5, 0.5));
    expect(applyGuidance(planGuidance(false, 'joint'), f(1, 2, 3, 5), 2, 0)).toEqual(f(5, 8));
    expect(() => applyGuidance(planGuidance(true, 'combined'), f(1, 2), 1, 1)).toThrow(/divisible/);
  });
});
