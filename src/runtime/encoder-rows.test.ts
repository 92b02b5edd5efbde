import { describe, expect, it } from 'vitest';
import { ownEncoderRows, pickRows, shareEncoderRows } from './encoder-rows';
import { planGuidance } from './guidance';

describe('shareEncoderRows', () => {
  it('runs the encoder at batch 2 for the three DreamCache branches', () => {
    const plan = planGuidance(true, 'combined'); // [e_u, e_i, e_c]
    expect(shareEncoderRows(plan.rows.map((r) => r.usePrompt))).toEqual({ source: [0, 2], encoderRow: [0, 0, 1] });
  });

  it('shares nothing when every row has its own text', () => {
    expect(shareEncoderRows(planGuidance(false, 'combined').rows.map((r) => r.usePrompt))).toEqual({ source: [0, 1], encoderRow: [0, 1] });
    expect(shareEncoderRows(planGuidance(true, 'joint').rows.map((r) => r.usePrompt))).toEqual({ source: [0, 1], encoderRow: [0, 1] });
  });

  it('keeps first-use order whatever the row order', () => {
    expect(shareEncoderRows([true, false, true, false])).toEqual({ source: [0, 1], encoderRow: [0, 1, 0, 1] });
  });

  it('maps every row to itself when sharing is off', () => {
    expect(ownEncoderRows(3)).toEqual({ source: [0, 1, 2], encoderRow: [0, 1, 2] });
  });
});

describe('pickRows', () => {
  it('copies the named rows in order', () => {
    const data = Float32Array.from([1, 2, 3, 4, 5, 6]);
    expect([...pickRows(data, 3, [2, 0])]).toEqual([5, 6, 1, 2]);
  });

  it('refuses data that does not split into the batch', () => {
    expect(() => pickRows(new Float32Array(5), 2, [0])).toThrow(/do not split/);
  });
});
