// The main journey: a photo becomes a subject, images are generated with and without it,
// the subject travels as a .dreamcache file, and the same seed reproduces the same pixels.
import { expect, test } from '@playwright/test';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { addSubject, configure, galleryPixels, generate, openApp, pixelDiff, shot } from './support/app';
import { FIXTURES, GENERATED, fixture } from './support/files';

const DREAMCACHE_MAGIC = [0x89, 0x44, 0x43, 0x41, 0x43, 0x48, 0x45, 0x0a];

test('photo → subject → personalized image; export, wipe, import, identical image', async ({ page }) => {
  await openApp(page, 'wasm');
  // The embedded default is the trained pack: no "untrained" badge.
  await expect(page.getByTestId('pack-badge')).toContainText('tiny-emoji');
  await expect(page.getByTestId('untrained-badge')).toHaveCount(0);
  // Its default image scale, from its manifest: a ramp from the first step's sI to the last's.
  const { guidance } = JSON.parse(readFileSync(path.resolve(FIXTURES, '../../public/models/tiny-emoji/manifest.json'), 'utf8'));
  const ends = `${guidance.imageScale.toFixed(1)} → ${(guidance.imageScaleEnd ?? guidance.imageScale).toFixed(1)}`;
  await expect(page.getByTestId('image-scale-value')).toHaveText(guidance.imageScaleEnd === undefined ? guidance.imageScale.toFixed(1) : ends);
  await expect(page.getByTestId('image-scale-end')).toHaveValue(String(guidance.imageScaleEnd ?? guidance.imageScale));
  await expect(page.getByTestId('library-empty')).toBeVisible();
  await expect(page.getByTestId('gallery-empty')).toBeVisible();
  await shot(page, '01-empty-state');

  // The JPEG is stored sideways with EXIF orientation 6; the app must show it upright (portrait).
  await addSubject(page, fixture('subject-photo.jpg'), {
    screenshot: '02-mask-preview',
    before: async () => {
      const size = await page.getByTestId('mask-preview').locator('canvas').first().evaluate((c) => [
        (c as HTMLCanvasElement).width,
        (c as HTMLCanvasElement).height,
      ]);
      expect(size).toEqual([480, 640]);
      await page.getByTestId('draft-name').fill('Red ball');
    },
  });
  await expect(page.getByTestId('subject-name')).toHaveText(['Red ball']);
  await expect(page.getByTestId('active-subject')).toContainText('Red ball');

  // Personalized image.
  const settings = { prompt: 'a red ball on a sandy beach', steps: 4, seed: 1234 };
  await configure(page, settings);
  await generate(page);
  const personalized = await galleryPixels(page, 0);
  await expect(page.getByTestId('gallery-item').first()).toContainText('Red ball');

  // Plain text-to-image.
  await page.getByTestId('subject-none').click();
  await expect(page.getByTestId('active-subject')).toHaveCount(0);
  await generate(page);
  await expect(page.getByTestId('gallery-item').first()).not.toContainText('Red ball');

  // The gallery survives a reload.
  await page.reload();
  await expect(page.getByTestId('backend-badge')).toBeVisible({ timeout: 120_000 });
  await expect(page.getByTestId('gallery-item')).toHaveCount(2);
  await shot(page, '04-gallery');

  // Export the subject as a share file.
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-subject').click()]);
  expect(download.suggestedFilename()).toBe('Red ball.dreamcache');
  const exported = path.join(GENERATED, 'red-ball.dreamcache');
  await download.saveAs(exported);
  expect([...readFileSync(exported).subarray(0, 8)]).toEqual(DREAMCACHE_MAGIC);

  // Clear all site storage: library, gallery, settings, service worker caches.
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Storage.clearDataForOrigin', { origin: new URL(page.url()).origin, storageTypes: 'all' });
  await page.reload();
  await expect(page.getByTestId('backend-badge')).toBeVisible({ timeout: 120_000 });
  await expect(page.getByTestId('library-empty')).toBeVisible();
  await expect(page.getByTestId('gallery-empty')).toBeVisible();

  // Import from the file picker and generate again with the same seed: identical pixels.
  await page.getByTestId('cache-input').setInputFiles(exported);
  await expect(page.getByTestId('subject-name')).toHaveText(['Red ball']);
  await expect(page.getByTestId('active-subject')).toContainText('Red ball');
  await configure(page, settings);
  await generate(page);
  const reproduced = await galleryPixels(page, 0);
  expect(reproduced.width).toBe(personalized.width);
  expect(pixelDiff(reproduced, personalized)).toEqual({ max: 0, mean: 0 });
});
