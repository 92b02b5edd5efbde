// The guidance part of the generation settings: a pack's defaults, and how the image scale's two
// ends read in the composer.
import type { PackManifest } from '../runtime/pack';
import type { GenerationSettings } from './storage';

export type GuidanceSettings = Pick<GenerationSettings, 'textScale' | 'imageScale' | 'imageScaleEnd'>;

/** The pack's guidance as settings: a pack without a ramp gets the same sI at both ends. */
export function guidanceDefaults(manifest: PackManifest): GuidanceSettings {
  const g = manifest.guidance;
  return { textScale: g.textScale, imageScale: g.imageScale, imageScaleEnd: g.imageScaleEnd ?? g.imageScale };
}

/**
 * The image scale as the composer shows it: "9.0" when constant, "12.0 → 6.0" when it ramps.
 * Settings saved before ramps existed have no end: constant.
 */
export function imageScaleLabel(s: Pick<GenerationSettings, 'imageScale' | 'imageScaleEnd'>): string {
  const end = s.imageScaleEnd ?? s.imageScale;
  return end === s.imageScale ? s.imageScale.toFixed(1) : `${s.imageScale.toFixed(1)} → ${end.toFixed(1)}`;
}

/** Settings an image was made with, its sI's end made explicit: images from before ramps used a constant sI. */
export function withImageScaleEnd<T extends Pick<GenerationSettings, 'imageScale' | 'imageScaleEnd'>>(s: T): T & { imageScaleEnd: number } {
  return { ...s, imageScaleEnd: s.imageScaleEnd ?? s.imageScale };
}
