// After one visit the service worker has precached the app, ORT's wasm and the embedded
// pack: with the network cut, a reload still starts the app and generates.
import { expect, test } from '@playwright/test';
import { configure, generate, openApp } from './support/app';

test('works offline after the first visit', async ({ page, context }) => {
  await openApp(page, 'wasm');
  // Precaching happens during install; `ready` resolves once the worker is active.
  await page.evaluate(async () => {
    await navigator.serviceWorker.ready;
    if (!navigator.serviceWorker.controller) {
      await new Promise((resolve) => navigator.serviceWorker.addEventListener('controllerchange', resolve, { once: true }));
    }
  });

  await context.setOffline(true);
  // A same-origin URL that is not precached goes to the network: it must fail now.
  const reachable = await page.evaluate(() =>
    fetch(`./not-precached-${Date.now()}.txt`).then(
      () => true,
      () => false,
    ),
  );
  expect(reachable).toBe(false);

  await page.reload();
  await expect(page.getByTestId('backend-badge')).toContainText('wasm', { timeout: 120_000 });
  await configure(page, { prompt: 'a paper boat', steps: 2, seed: 5 });
  await generate(page);
  await expect(page.getByTestId('gallery-item')).toHaveCount(1);
});
