import { describe, expect, it } from 'vitest';
import { guidanceDefaults, imageScaleLabel, withImageScaleEnd } from './guidance-settings';
import type { PackManifest } from '../runtime/pack';

const manifest = (guidance: PackManifest['guidance']) => ({ guidance }) as PackManifest;

describe('guidance settings', () => {
  it("takes the pack's ramp, or the same sI at both ends when it has none", () => {
    expect(guidanceDefaults(manifest({ textScale: 7.5, imageScale: 12, imageScaleEnd: 6 }))).toEqual({ textScale: 7.5, imageScale: 12, imageScaleEnd: 6 });
    expect(guidanceDefaults(manifest({ textScale: 7.5, imageScale: 9 }))).toEqual({ textScale: 7.5, imageScale: 9, imageScaleEnd: 9 });
  });
  it('shows one number when constant, both ends when it ramps', () => {
    expect(imageScaleLabel({ imageScale: 9, imageScaleEnd: 9 })).toBe('9.0');
    expect(imageScaleLabel({ imageScale: 9 })).toBe('9.0');
    expect(imageScaleLabel({ imageScale: 12, imageScaleEnd: 6 })).toBe('12.0 → 6.0');
  });
  it('reads an image made before ramps as a constant sI', () => {
    expect(withImageScaleEnd({ imageScale: 8, steps: 20 })).toEqual({ imageScale: 8, imageScaleEnd: 8, steps: 20 });
    expect(withImageScaleEnd({ imageScale: 12, imageScaleEnd: 6 })).toEqual({ imageScale: 12, imageScaleEnd: 6 });
  });
});
