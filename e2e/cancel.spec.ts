// A long generation shows live previews and progress; Cancel stops it within a step or so
// and leaves no result behind.
import { expect, test } from '@playwright/test';
import { configure, openApp, shot } from './support/app';

test('progress with live previews, and Cancel stops a generation', async ({ page }) => {
  await openApp(page, 'wasm');
  const steps = 80;
  await configure(page, { prompt: 'a lighthouse on a cliff at dusk', steps, seed: 99 });
  await page.getByTestId('generate').click();
  await expect(page.getByTestId('progress-panel').locator('canvas')).toBeVisible({ timeout: 120_000 });
  await expect(page.getByTestId('progress-count')).toHaveText(/step ([3-9]|\d\d) \/ 80/, { timeout: 120_000 });
  await shot(page, '03-generating');

  const stepText = (await page.getByTestId('progress-count').textContent()) ?? '';
  const stepAtCancel = Number(/step (\d+)/.exec(stepText)?.[1]);
  await page.getByTestId('cancel').click();
  await expect(page.getByTestId('notice-info')).toContainText('cancelled', { timeout: 60_000 });
  await expect(page.getByTestId('progress-panel')).toBeHidden();
  await expect(page.getByTestId('gallery-item')).toHaveCount(0);
  await expect(page.getByTestId('generate')).toBeEnabled();
  // It stopped early, not by running to the end.
  expect(stepAtCancel).toBeLessThan(steps - 10);
});
