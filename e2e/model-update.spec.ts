// A model update: the library holds subjects cached by an earlier version of the embedded pack,
// stored before subjects kept their reference picture (as every subject made before tiny-emoji
// 0.16.0 was). The app says so once, and one click rebuilds them from their thumbnails, which for a
// 128-px pack are the references themselves: a rebuilt subject gives the very pixels it gave before.
import { expect, test } from '@playwright/test';
import { addSubject, configure, galleryPixels, generate, openApp, pixelDiff, shot } from './support/app';
import { fixture } from './support/files';

const EARLIER_FINGERPRINT = 'e'.repeat(64);

test('subjects of an earlier model version are rebuilt from their thumbnails, pixel for pixel', async ({ page }) => {
  await openApp(page, 'wasm');
  await addSubject(page, fixture('cutout.png'), { via: 'picker' });
  await addSubject(page, fixture('cutout.png'), { via: 'picker', before: () => page.getByTestId('draft-name').fill('Star') });
  await expect(page.getByTestId('active-subject')).toContainText('Star');
  const settings = { prompt: 'a red ball on the beach', steps: 2, seed: 11 };
  await configure(page, settings);
  await generate(page);
  const before = await galleryPixels(page, 0);

  // What an earlier version of the same pack left in IndexedDB: its fingerprint, no reference.
  await page.evaluate(async (fingerprint) => {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const req = indexedDB.open('dreamcache-studio-subjects');
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
    const store = db.transaction('subjects', 'readwrite').objectStore('subjects');
    const records = await new Promise<Record<string, unknown>[]>((resolve, reject) => {
      const req = store.getAll();
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
    for (const { reference: _r, ...record } of records) store.put({ ...record, fingerprint }, record.id as string);
    await new Promise((resolve) => (store.transaction.oncomplete = resolve));
    db.close();
  }, EARLIER_FINGERPRINT);

  await page.reload();
  await expect(page.getByTestId('backend-badge')).toBeVisible({ timeout: 120_000 });
  const notice = page.getByTestId('notice-info').filter({ hasText: '2 subjects were made with an earlier version of tiny-emoji' });
  await expect(notice).toBeVisible({ timeout: 120_000 });
  const subjectButtons = page.getByTestId('subject').locator('button.subject');
  await expect(subjectButtons).toHaveCount(2);
  for (const button of await subjectButtons.all()) {
    await expect(button).toBeDisabled();
    await expect(button).toContainText('made with an earlier tiny-emoji');
  }
  await expect(page.getByTestId('rebuild-all')).toBeVisible();
  await shot(page, '09-earlier-version-subjects');

  await notice.getByRole('button', { name: 'Rebuild all' }).click();
  await expect(notice).toHaveCount(0);
  await expect(page.getByTestId('notice-success').last()).toContainText('2 subjects now work with tiny-emoji', { timeout: 60_000 });
  await expect(page.getByTestId('other-pack-subjects')).toHaveCount(0);
  for (const button of await subjectButtons.all()) await expect(button).toBeEnabled();
  await subjectButtons.filter({ hasText: 'Star' }).click();
  await expect(page.getByTestId('active-subject')).toContainText('Star');
  await configure(page, settings);
  await generate(page);
  expect(pixelDiff(await galleryPixels(page, 0), before)).toEqual({ max: 0, mean: 0 });
});
