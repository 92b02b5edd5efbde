// The WebGPU execution provider (SwiftShader in headless Chromium: fp32, no shader-f16)
// must produce the same image as wasm, up to float rounding.
import { expect, test } from '@playwright/test';
import { addSubject, configure, galleryPixels, generate, openApp, pixelDiff } from './support/app';
import { fixture } from './support/files';

// Stated tolerance, in 8-bit levels (0–255): GPU and CPU kernels sum in different orders, so
// the last bits of fp32 differ. Measured on the dev pack (3 steps, with a subject): max 1
// level, mean 0.0001. Allowed: max 4 levels on any channel, mean 0.05.
const MAX_LEVELS = 4;
const MEAN_LEVELS = 0.05;

test('WebGPU generates the same image as wasm within tolerance', async ({ page }) => {
  test.setTimeout(900_000);
  await openApp(page, 'webgpu', 'dev-tiny'); // SwiftShader is slow: the tiny random pack
  await expect(page.getByTestId('backend-badge')).toHaveText('WebGPU fp32');
  // The random development pack says so.
  await expect(page.getByTestId('untrained-badge')).toBeVisible();
  // The segmenter and the cache pass run on SwiftShader too: on a busy 2-core machine they have
  // taken over the default 2 minutes.
  await addSubject(page, fixture('cutout.png'), { timeout: 300_000 });
  const settings = { prompt: 'a blue tile on a wooden table', steps: 3, seed: 2024 };
  await configure(page, settings);
  await generate(page, 600_000);
  const gpu = await galleryPixels(page, 0);

  // Same profile, so the subject (cache built on WebGPU) is reused on wasm.
  await openApp(page, 'wasm', 'dev-tiny');
  await configure(page, settings);
  await generate(page);
  const cpu = await galleryPixels(page, 0);

  const { max, mean } = pixelDiff(gpu, cpu);
  console.log(`WebGPU vs wasm: max |Δ| = ${max} levels, mean |Δ| = ${mean.toFixed(4)} levels`);
  expect(max).toBeLessThanOrEqual(MAX_LEVELS);
  expect(mean).toBeLessThanOrEqual(MEAN_LEVELS);
});
