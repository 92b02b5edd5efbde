// Page helpers shared by the e2e specs: they drive the UI the way a person would
// (drop, pick, click) and read results back as pixels.
import { expect, type Page } from '@playwright/test';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ARTIFACTS } from './files';

export type Backend = 'wasm' | 'webgpu';

/** pack: a folder under public/models/; the embedded default when left out. */
export async function openApp(page: Page, backend: Backend, pack?: string): Promise<void> {
  await page.goto(`./?backend=${backend}${pack ? `&pack=${pack}` : ''}`);
  await expect(page.getByTestId('backend-badge')).toBeVisible({ timeout: 120_000 });
  await expect(page.getByTestId('backend-badge')).toContainText(backend === 'wasm' ? 'wasm' : 'WebGPU');
}

export async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(ARTIFACTS, 'screenshots', `${name}.png`), fullPage: true });
}

/** Drops a file on the page the way a browser does: dragenter, dragover, drop with a DataTransfer. */
export async function dropFile(page: Page, filePath: string, name = path.basename(filePath), mimeType = ''): Promise<void> {
  const base64 = readFileSync(filePath).toString('base64');
  const dataTransfer = await page.evaluateHandle(
    ({ base64, name, mimeType }) => {
      const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
      const dt = new DataTransfer();
      dt.items.add(new File([bytes], name, { type: mimeType }));
      return dt;
    },
    { base64, name, mimeType },
  );
  const target = page.getByTestId('dropzone');
  await target.dispatchEvent('dragenter', { dataTransfer });
  await target.dispatchEvent('dragover', { dataTransfer });
  await target.dispatchEvent('drop', { dataTransfer });
}

/** React listens to `input` events; set the value through the native setter so it notices. */
export async function setRange(page: Page, testId: string, value: number): Promise<void> {
  await page.getByTestId(testId).evaluate((el, v) => {
    const input = el as HTMLInputElement;
    Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value')!.set!.call(input, String(v));
    input.dispatchEvent(new Event('input', { bubbles: true }));
  }, value);
}

export async function configure(page: Page, opts: { prompt: string; steps: number; seed: number }): Promise<void> {
  await page.getByTestId('prompt').fill(opts.prompt);
  await setRange(page, 'steps', opts.steps);
  await page.getByTestId('seed').fill(String(opts.seed));
  await expect(page.getByTestId('randomize-seed')).not.toBeChecked();
}

/** Clicks Generate and waits until the gallery holds one more image. */
export async function generate(page: Page, timeout = 120_000): Promise<void> {
  const before = await page.getByTestId('gallery-item').count();
  await page.getByTestId('generate').click();
  await expect(page.getByTestId('gallery-item')).toHaveCount(before + 1, { timeout });
}

/** RGBA pixels of a gallery image (0 = newest). */
export async function galleryPixels(page: Page, index = 0): Promise<{ width: number; height: number; data: number[] }> {
  return page.getByTestId('gallery-item').nth(index).locator('img').evaluate(async (img) => {
    const blob = await (await fetch((img as HTMLImageElement).src)).blob();
    const bitmap = await createImageBitmap(blob);
    const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
    const ctx = canvas.getContext('2d')!;
    ctx.drawImage(bitmap, 0, 0);
    return { width: bitmap.width, height: bitmap.height, data: Array.from(ctx.getImageData(0, 0, bitmap.width, bitmap.height).data) };
  });
}

export function pixelDiff(a: { data: number[] }, b: { data: number[] }): { max: number; mean: number } {
  expect(a.data.length).toBe(b.data.length);
  let max = 0;
  let sum = 0;
  for (let i = 0; i < a.data.length; i++) {
    const d = Math.abs(a.data[i] - b.data[i]);
    max = Math.max(max, d);
    sum += d;
  }
  return { max, mean: sum / a.data.length };
}

/** Adds a subject from a photo: drop, wait for the mask preview, accept, wait for the library entry. */
export async function addSubject(
  page: Page,
  filePath: string,
  opts: { screenshot?: string; via?: 'drop' | 'picker'; before?: () => Promise<void>; timeout?: number } = {},
): Promise<void> {
  const timeout = opts.timeout ?? 120_000;
  const before = await page.getByTestId('subject').count();
  if (opts.via === 'picker') await page.getByTestId('photo-input').setInputFiles(filePath);
  else await dropFile(page, filePath);
  const dialog = page.getByTestId('mask-preview');
  await expect(dialog).toBeVisible();
  await expect(page.getByTestId('accept-mask')).toBeEnabled({ timeout });
  await opts.before?.();
  if (opts.screenshot) await shot(page, opts.screenshot);
  await page.getByTestId('accept-mask').click();
  await expect(page.getByTestId('subject')).toHaveCount(before + 1, { timeout });
  await expect(dialog).toBeHidden();
}

export async function expectError(page: Page, pattern: RegExp): Promise<void> {
  const notice = page.getByTestId('notice-error').last();
  await expect(notice).toBeVisible();
  await expect(notice).toContainText(pattern);
  await notice.getByRole('button', { name: 'Dismiss' }).click();
  await expect(page.getByTestId('notice-error')).toHaveCount(0);
}
