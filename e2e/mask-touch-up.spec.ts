// The segmenter misses sometimes: the person touches the mask up with a brush before the subject
// is cached. Remove / Keep strokes change what the model sees; Reset brings the found mask back;
// a mask that keeps nothing cannot be accepted.
import { expect, test, type Locator, type Page } from '@playwright/test';
import { dropFile, openApp, setRange, shot } from './support/app';
import { fixture } from './support/files';

/** Pixels of the "subject on white" preview canvas, and how many are not near-white. */
async function onWhite(page: Page): Promise<{ data: number[]; subject: number }> {
  return page.getByTestId('on-white').evaluate((c) => {
    const canvas = c as HTMLCanvasElement;
    const data = [...canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data];
    let subject = 0;
    for (let i = 0; i < data.length; i += 4) if (data[i] + data[i + 1] + data[i + 2] < 3 * 235) subject++;
    return { data, subject };
  });
}

/** A horizontal drag across the drawn photo, at `row` (0 top … 1 bottom) of its height. */
async function stroke(page: Page, canvas: Locator, row: number): Promise<void> {
  // the canvas shows the photo with object-fit: contain; its pixel size gives the drawn area
  const { box, w, h } = await canvas.evaluate((c) => {
    const r = c.getBoundingClientRect();
    return { box: { x: r.left, y: r.top, width: r.width, height: r.height }, w: (c as HTMLCanvasElement).width, h: (c as HTMLCanvasElement).height };
  });
  const scale = Math.min(box.width / w, box.height / h);
  const left = box.x + (box.width - w * scale) / 2;
  const top = box.y + (box.height - h * scale) / 2;
  const y = top + row * h * scale;
  await page.mouse.move(left + 2, y);
  await page.mouse.down();
  await page.mouse.move(left + w * scale - 2, y, { steps: 12 });
  await page.mouse.up();
}

test('touch up the mask: remove, reset, nothing kept, keep, accept', async ({ page }) => {
  await openApp(page, 'wasm');
  await dropFile(page, fixture('subject-photo.jpg'));
  const accept = page.getByTestId('accept-mask');
  await expect(accept).toBeEnabled({ timeout: 120_000 });
  const found = await onWhite(page);
  expect(found.subject).toBeGreaterThan(100);
  const canvas = page.getByTestId('mask-canvas');
  await expect(page.getByTestId('reset-mask')).toBeDisabled();

  // Remove a band through the middle of the photo: less of the subject is left on white.
  await expect(page.getByTestId('brush-remove')).toHaveAttribute('aria-pressed', 'true');
  await setRange(page, 'brush-size', 12);
  await stroke(page, canvas, 0.5);
  await expect(page.getByTestId('mask-preview')).toContainText('touched up by hand');
  await expect.poll(async () => (await onWhite(page)).subject).toBeLessThan(found.subject * 0.95);
  await shot(page, '10-mask-touched-up');

  // Reset: exactly the segmenter's mask again.
  await page.getByTestId('reset-mask').click();
  await expect.poll(async () => (await onWhite(page)).data.join(',') === found.data.join(',')).toBe(true);
  await expect(page.getByTestId('reset-mask')).toBeDisabled();

  // Remove everything: nothing to put on white, so it cannot be accepted.
  await setRange(page, 'brush-size', 25);
  for (const row of [0.05, 0.25, 0.45, 0.65, 0.85, 0.98]) await stroke(page, canvas, row);
  await expect(page.getByTestId('empty-mask')).toBeVisible();
  await expect(accept).toBeDisabled();

  // Keep a band: a subject again, and it becomes a library subject.
  await page.getByTestId('brush-keep').click();
  await setRange(page, 'brush-size', 10);
  await stroke(page, canvas, 0.5);
  await expect(page.getByTestId('on-white')).toBeVisible();
  expect((await onWhite(page)).subject).toBeGreaterThan(100);
  await accept.click();
  await expect(page.getByTestId('subject')).toHaveCount(1, { timeout: 120_000 });
  await expect(page.getByTestId('mask-preview')).toBeHidden();
});
