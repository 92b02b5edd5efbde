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

  // Installable: a linked web app manifest with name, start URL and 192/512 px icons.
  const manifest = await page.evaluate(async () => {
    const link = document.querySelector<HTMLLinkElement>('link[rel="manifest"]');
    return link ? await (await fetch(link.href)).json() : null;
  });
  expect(manifest).toMatchObject({ name: 'DreamCache Studio', display: 'standalone', start_url: '.' });
  expect(manifest.icons.map((i: { sizes: string }) => i.sizes)).toEqual(expect.arrayContaining(['192x192', '512x512']));

  const onlineBadge = await page.getByTestId('backend-badge').textContent();
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
  // Same backend and thread count: the cached page keeps its cross-origin-isolation headers.
  await expect(page.getByTestId('backend-badge')).toHaveText(onlineBadge ?? 'wasm', { timeout: 120_000 });
  await configure(page, { prompt: 'a paper boat', steps: 2, seed: 5 });
  await generate(page);
  await expect(page.getByTestId('gallery-item')).toHaveCount(1);
});
