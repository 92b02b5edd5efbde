// Several images per press of Generate: which seeds they use, and how much of the run is left.
// Pure functions, so the seed rule (what makes a run repeatable) is testable.
import { MAX_IMAGES_PER_RUN, MAX_SEED } from './config';

/** A stored count made valid: a whole number in 1 … MAX_IMAGES_PER_RUN (older settings have none). */
export function imageCount(count: unknown): number {
  const n = typeof count === 'number' && Number.isFinite(count) ? Math.trunc(count) : 1;
  return Math.min(MAX_IMAGES_PER_RUN, Math.max(1, n));
}

/**
 * The seeds of one run: a fixed seed gives seed, seed + 1, … (wrapping past MAX_SEED), so pressing
 * Generate again repeats the run and each image's own seed reproduces it alone; with a new seed each
 * time, every image draws its own.
 */
export function runSeeds(seed: number, count: number, randomize: boolean, draw: () => number): number[] {
  return Array.from({ length: count }, (_, i) => (randomize ? draw() : (seed + i) % (MAX_SEED + 1)));
}

/** Steps left in a run of `count` images of `total` steps, now at `step` of image `index` (1-based). */
export function stepsLeft(step: number, total: number, index: number, count: number): number {
  return Math.max(0, total - step) + Math.max(0, count - index) * total;
}
