// Several images per press of Generate: a fixed seed gives seed, seed + 1, …, each image's own
// seed reproduces it alone, and Cancel mid-run keeps the images already made.
import { expect, test } from '@playwright/test';
import { configure, galleryPixels, generate, openApp, pixelDiff, setRange, shot } from './support/app';

test('a run of three images, one of them made again alone, and a run cancelled after its first image', async ({ page }) => {
  await openApp(page, 'wasm');
  await configure(page, { prompt: 'a red ball on the beach', steps: 2, seed: 7 });
  await setRange(page, 'image-count', 3);
  await expect(page.getByTestId('generate')).toHaveText('Generate 3');
  await page.getByTestId('generate').click();
  await expect(page.getByTestId('gallery-item')).toHaveCount(3, { timeout: 180_000 });
  await expect(page.getByTestId('generate')).toBeEnabled();
  // Newest first; the seed field still says 7, so Generate would repeat the run.
  expect(await page.getByTestId('gallery-item').evaluateAll((els) => els.map((el) => el.getAttribute('data-seed')))).toEqual(['9', '8', '7']);
  await expect(page.getByTestId('seed')).toHaveValue('7');
  const second = await galleryPixels(page, 1);
  expect(pixelDiff(second, await galleryPixels(page, 0)).max).toBeGreaterThan(0);

  // The middle image's seed, alone: the same pixels.
  await setRange(page, 'image-count', 1);
  await page.getByTestId('seed').fill('8');
  await generate(page);
  expect(pixelDiff(await galleryPixels(page, 0), second)).toEqual({ max: 0, mean: 0 });

  // A long run, cancelled while its second image is drawn: the first stays.
  await configure(page, { prompt: 'a lighthouse on a cliff at dusk', steps: 40, seed: 11 });
  await setRange(page, 'image-count', 3);
  await page.getByTestId('generate').click();
  await expect(page.getByTestId('progress-image')).toHaveText('image 2 of 3', { timeout: 180_000 });
  await shot(page, '10-image-run');
  await page.getByTestId('cancel').click();
  await expect(page.getByTestId('notice-info').last()).toContainText('Generation cancelled. 1 of 3 images were made and kept.', { timeout: 60_000 });
  await expect(page.getByTestId('gallery-item')).toHaveCount(5);
  await expect(page.getByTestId('gallery-item').first()).toHaveAttribute('data-seed', '11');
  await expect(page.getByTestId('progress-panel')).toBeHidden();
});
