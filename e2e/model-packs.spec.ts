// Loading another model pack: picked as files, checked, stored, switched to, used with the
// network cut; a tampered copy is refused with the file named and the active pack unchanged.
// A subject follows the switches by being rebuilt from its stored picture, and back on the first
// pack it gives the very pixels it gave before. Its share file, exported with the first pack and
// imported with the second, is rebuilt there from the picture it carries: the same pixels again.
import { expect, test, type Page } from '@playwright/test';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { addSubject, configure, galleryPixels, generate, openApp, pixelDiff, shot } from './support/app';
import { GENERATED, fixture } from './support/files';

const DEV_PACK = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../public/models/dev-tiny');

function packFiles(dir: string): string[] {
  return readdirSync(dir).map((f) => path.join(dir, f));
}

/** A copy of the dev pack with one byte of unet.onnx changed, written at test time. */
function tamperedCopy(): string {
  const dir = path.join(mkdtempSync(path.join(tmpdir(), 'dreamcache-tampered-')), 'dev-tiny');
  mkdirSync(dir);
  for (const f of readdirSync(DEV_PACK)) copyFileSync(path.join(DEV_PACK, f), path.join(dir, f));
  const unet = readFileSync(path.join(dir, 'unet.onnx'));
  unet[unet.length >> 1] ^= 0x01;
  writeFileSync(path.join(dir, 'unet.onnx'), unet);
  return dir;
}

async function openModels(page: Page) {
  await page.getByTestId('model-menu').click();
  await expect(page.getByTestId('model-dialog')).toBeVisible();
}

test('load a pack from files, switch to it, rebuild a subject for it, use it offline; a tampered copy is refused', async ({ page, context }) => {
  await openApp(page, 'wasm');
  await expect(page.getByTestId('pack-badge')).toContainText('tiny-emoji');
  // A subject of the embedded pack (a cut-out: no segmenter), selected.
  await addSubject(page, fixture('cutout.png'), { via: 'picker' });
  const subjectButton = page.getByTestId('subject').locator('button').first();
  await expect(subjectButton).toHaveAttribute('aria-pressed', 'true');
  const settings = { prompt: 'a red ball', steps: 2, seed: 3 };
  await configure(page, settings);
  await generate(page);
  const before = await galleryPixels(page, 0);
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-subject').click()]);
  mkdirSync(GENERATED, { recursive: true });
  const shared = path.join(GENERATED, 'cutout-tiny-emoji.dreamcache');
  await download.saveAs(shared);
  expect(readFileSync(shared).readUInt32LE(8)).toBe(2); // version 2: it carries the reference picture

  await openModels(page);
  await expect(page.getByTestId('pack-row')).toHaveCount(1);
  await page.getByTestId('pack-files-input').setInputFiles(packFiles(DEV_PACK));
  await expect(page.getByTestId('pack-message')).toContainText('dev-tiny 0.1.0 is stored', { timeout: 60_000 });
  const devRow = page.locator('[data-testid="pack-row"][data-pack-name="dev-tiny"]');
  await expect(devRow).toContainText('untrained');
  await shot(page, '06-model-dialog');

  await devRow.getByTestId('use-pack').click();
  await expect(page.getByTestId('pack-badge')).toContainText('dev-tiny', { timeout: 120_000 });
  await expect(page.getByTestId('untrained-badge')).toBeVisible();
  await expect(devRow).toContainText('in use');
  await page.getByRole('button', { name: 'Close' }).click();
  // The tiny-emoji subject is listed apart and cannot be chosen with dev-tiny.
  await expect(page.getByTestId('other-pack-subjects')).toBeVisible();
  await expect(subjectButton).toBeDisabled();
  await expect(subjectButton).toContainText('made with tiny-emoji');
  await expect(page.getByTestId('subject-none')).toHaveAttribute('aria-pressed', 'true');
  await shot(page, '08-other-pack-subject');
  // Rebuilt for dev-tiny from its stored picture: usable and selected.
  await page.getByTestId('rebuild-subject').click();
  await expect(page.getByTestId('other-pack-subjects')).toHaveCount(0, { timeout: 60_000 });
  await expect(subjectButton).toBeEnabled();
  await expect(subjectButton).toHaveAttribute('aria-pressed', 'true');
  await expect(page.getByTestId('notice-success').last()).toContainText('now works with dev-tiny 0.1.0');

  // The choice persists, and the stored pack needs no network (only the app shell is precached).
  await page.evaluate(async () => {
    await navigator.serviceWorker.ready;
    if (!navigator.serviceWorker.controller) {
      await new Promise((resolve) => navigator.serviceWorker.addEventListener('controllerchange', resolve, { once: true }));
    }
  });
  await context.setOffline(true);
  await page.reload();
  await expect(page.getByTestId('pack-badge')).toContainText('dev-tiny', { timeout: 120_000 });
  await expect(page.getByTestId('untrained-badge')).toBeVisible();
  await expect(page.getByTestId('other-pack-subjects')).toHaveCount(0);
  await expect(page.getByTestId('active-subject')).toContainText('cutout');
  await configure(page, settings);
  await generate(page);
  await expect(page.getByTestId('gallery-item').first()).toContainText('cutout');
  const onDev = await galleryPixels(page, 0);

  // The share file made with tiny-emoji, imported here: stored, rebuilt from its picture, selected.
  await page.getByTestId('cache-input').setInputFiles(shared);
  await expect(page.getByTestId('notice-info').last()).toContainText('made with tiny-emoji: rebuilding it for this model');
  await expect(page.getByTestId('notice-success').last()).toContainText('now works with dev-tiny 0.1.0', { timeout: 60_000 });
  await expect(page.getByTestId('subject')).toHaveCount(2);
  await expect(page.getByTestId('other-pack-subjects')).toHaveCount(0);
  await expect(page.getByTestId('subject').nth(1).locator('button').first()).toHaveAttribute('aria-pressed', 'true');
  await configure(page, settings);
  await generate(page);
  expect(pixelDiff(await galleryPixels(page, 0), onDev)).toEqual({ max: 0, mean: 0 });
  page.once('dialog', (dialog) => void dialog.accept());
  await page.getByTestId('subject').nth(1).getByTestId('delete-subject').click();
  await expect(page.getByTestId('subject')).toHaveCount(1);

  // One byte changed in unet.onnx: refused, nothing stored, the active pack unchanged.
  await openModels(page);
  await page.getByTestId('pack-files-input').setInputFiles(packFiles(tamperedCopy()));
  await expect(page.getByTestId('pack-error')).toHaveText('This pack was not added: unet.onnx: sha256 differs from the manifest', {
    timeout: 60_000,
  });
  await shot(page, '07-model-dialog-refused');
  await expect(page.getByTestId('pack-row')).toHaveCount(2);
  await expect(page.getByTestId('pack-badge')).toContainText('dev-tiny');
  await expect(devRow).toContainText('in use');

  // Back to the embedded pack: the subject is dev-tiny's now; rebuilt again, it reproduces the first image exactly.
  await context.setOffline(false);
  await page.locator('[data-testid="pack-row"][data-pack-name="tiny-emoji"]').getByTestId('use-pack').click();
  await expect(page.getByTestId('pack-badge')).toContainText('tiny-emoji', { timeout: 120_000 });
  await page.getByRole('button', { name: 'Close' }).click();
  await expect(subjectButton).toContainText('made with dev-tiny');
  await page.getByTestId('rebuild-subject').click();
  await expect(subjectButton).toHaveAttribute('aria-pressed', 'true', { timeout: 60_000 });
  await configure(page, settings);
  await generate(page);
  expect(pixelDiff(await galleryPixels(page, 0), before)).toEqual({ max: 0, mean: 0 });
});
