import { describe, expect, it } from 'vitest';
import { readBackendPreference, readThreadCount } from './backend-preference';
import { kindOfFile, safeFileName } from './file-kind';
import { maskOverlay } from './mask-overlay';
import { fitWithin } from './photo-decode';
import { applyProgress, formatDuration, nextImage, startJob } from './job-progress';
import { imageCount, runSeeds, stepsLeft } from './image-batch';
import { readPackUrl } from './pack-choice';
import { DEFAULT_PACK_URL, MAX_IMAGES_PER_RUN, MAX_SEED } from './config';

describe('backend preference', () => {
  it('takes the URL first, then the saved choice, then auto', () => {
    expect(readBackendPreference('?backend=wasm', 'webgpu')).toBe('wasm');
    expect(readBackendPreference('', 'webgpu')).toBe('webgpu');
    expect(readBackendPreference('?backend=cuda', null)).toBe('auto');
    expect(readThreadCount('?threads=3')).toBe(3);
    expect(readThreadCount('?threads=0')).toBeUndefined();
  });
  it('picks the pack from ?pack=, defaulting to the embedded one', () => {
    expect(readPackUrl('')).toBe(DEFAULT_PACK_URL);
    expect(readPackUrl('?pack=sd15')).toBe('models/sd15/');
    expect(readPackUrl('?pack=https://example.org/packs/sd15')).toBe('https://example.org/packs/sd15/');
    expect(readPackUrl('?pack=../../etc')).toBe('../../etc/');
    expect(readPackUrl('?pack=Bad Name')).toBe(DEFAULT_PACK_URL);
  });
});

describe('files', () => {
  it('routes share files by extension and everything else to the photo path', () => {
    expect(kindOfFile({ name: 'Rex.DreamCache' })).toBe('dreamcache');
    expect(kindOfFile({ name: 'rex.png' })).toBe('photo');
  });
  it('makes download names safe', () => {
    expect(safeFileName('a/b:c*?', 'x')).toBe('a-b-c-');
    expect(safeFileName('   ', 'subject')).toBe('subject');
  });
  it('fits photos within the working size, keeping aspect', () => {
    expect(fitWithin(4000, 3000, 1024)).toEqual({ width: 1024, height: 768 });
    expect(fitWithin(300, 200, 1024)).toEqual({ width: 300, height: 200 });
  });
});

describe('maskOverlay', () => {
  it('keeps subject pixels and dims the background', () => {
    const photo = { width: 2, height: 1, data: new Uint8ClampedArray([200, 100, 50, 255, 200, 100, 50, 255]) };
    const out = maskOverlay(photo, { width: 2, height: 1, data: new Float32Array([1, 0]), source: 'segmenter' });
    expect([...out.data.subarray(0, 4)]).toEqual([200, 100, 50, 255]);
    expect(out.data[4]).toBeLessThan(100);
    expect(() => maskOverlay(photo, { width: 1, height: 1, data: new Float32Array(1), source: 'alpha' })).toThrow(/mask is 1×1/);
  });
});

describe('job progress', () => {
  it('estimates seconds per step from the second step on, and keeps the last preview', () => {
    const preview = { width: 1, height: 1, data: new Uint8ClampedArray(4) };
    let job = startJob('generate', 10, 0);
    job = applyProgress(job, { stage: 'generate', step: 1, total: 10, preview }, 5000); // includes text encoding
    expect(job.secondsPerStep).toBeNull();
    job = applyProgress(job, { stage: 'generate', step: 2, total: 10 }, 6000);
    expect(job.secondsPerStep).toBeCloseTo(1);
    expect(job.preview).toBe(preview);
    job = applyProgress(job, { stage: 'generate', step: 4, total: 10 }, 10000);
    expect(job.secondsPerStep).toBeCloseTo(0.7 * 1 + 0.3 * 2);
    expect(formatDuration(42.2)).toBe('43 s');
    expect(formatDuration(125)).toBe('2 min 5 s');
  });
});

describe('several images per run', () => {
  it('reads a stored count as a whole number in range; older settings without one make one image', () => {
    expect(imageCount(undefined)).toBe(1);
    expect(imageCount(4)).toBe(4);
    expect(imageCount(3.7)).toBe(3);
    expect(imageCount(0)).toBe(1);
    expect(imageCount(-2)).toBe(1);
    expect(imageCount(99)).toBe(MAX_IMAGES_PER_RUN);
    expect(imageCount(Number.NaN)).toBe(1);
    expect(imageCount('4')).toBe(1);
  });

  it('gives a fixed seed and the ones after it, wrapping at the largest seed; or a drawn seed per image', () => {
    const never = () => {
      throw new Error('a fixed seed draws nothing');
    };
    expect(runSeeds(41, 3, false, never)).toEqual([41, 42, 43]);
    expect(runSeeds(MAX_SEED - 1, 3, false, never)).toEqual([MAX_SEED - 1, MAX_SEED, 0]);
    let n = 100;
    expect(runSeeds(41, 3, true, () => n++)).toEqual([100, 101, 102]);
    expect(runSeeds(7, 1, false, never)).toEqual([7]);
  });

  it('counts the steps left over the images still to come', () => {
    expect(stepsLeft(5, 20, 1, 1)).toBe(15);
    expect(stepsLeft(5, 20, 1, 3)).toBe(55);
    expect(stepsLeft(20, 20, 3, 3)).toBe(0);
  });

  it('starts the next image with steps and preview reset and the measured speed kept', () => {
    const job = { ...startJob('generate', 20, 0), step: 20, secondsPerStep: 0.5, lastStepAt: 900, message: 'x' };
    const next = nextImage(job, 2, 4);
    expect(next).toMatchObject({ step: 0, total: 20, preview: null, lastStepAt: null, secondsPerStep: 0.5, run: { index: 2, count: 4 } });
    expect(next.message).toBeUndefined();
    // progress events keep the run
    expect(applyProgress(next, { step: 1, total: 20 } as Parameters<typeof applyProgress>[1], 1000).run).toEqual({ index: 2, count: 4 });
  });
});
