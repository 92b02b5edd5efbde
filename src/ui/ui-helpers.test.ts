import { describe, expect, it } from 'vitest';
import { readBackendPreference, readThreadCount } from './backend-preference';
import { kindOfFile, safeFileName } from './file-kind';
import { maskOverlay } from './mask-overlay';
import { fitWithin } from './photo-decode';
import { applyProgress, formatDuration, startJob } from './job-progress';
import { readPackUrl } from './pack-choice';
import { DEFAULT_PACK_URL } from './config';

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
