// Every kind of bad file gets a message that says what is wrong, and the library is left
// exactly as it was (checked in the UI and again after a reload, i.e. in IndexedDB).
import { expect, test, type Page } from '@playwright/test';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { addSubject, dropFile, expectError, openApp, shot } from './support/app';
import { GENERATED, fixture, hugePng } from './support/files';

async function expectLibraryUnchanged(page: Page, names: string[]) {
  await expect(page.getByTestId('mask-preview')).toBeHidden();
  await expect(page.getByTestId('subject-name')).toHaveText(names);
}

/** The share file as another model would have written it, without a thumbnail or reference picture (version 1). */
function otherModelWithoutPicture(file: Buffer): Buffer {
  const headerLength = file.readUInt32LE(12);
  const header = JSON.parse(file.subarray(16, 16 + headerLength).toString('utf8'));
  const pictures = header.thumbnail.bytes + (header.reference?.bytes ?? 0);
  const tensors = file.subarray(16 + headerLength, file.length - 32 - pictures);
  header.pack = { name: 'another-model', fingerprint: 'b'.repeat(64) };
  header.thumbnail = { bytes: 0, mimeType: 'image/png' };
  delete header.reference;
  const headerBytes = Buffer.from(JSON.stringify(header));
  const prefix = Buffer.alloc(16);
  file.copy(prefix, 0, 0, 8);
  prefix.writeUInt32LE(1, 8);
  prefix.writeUInt32LE(headerBytes.length, 12);
  const body = Buffer.concat([prefix, headerBytes, tensors]);
  return Buffer.concat([body, createHash('sha256').update(body).digest()]);
}

test('bad photos and bad share files are refused with a clear message', async ({ page }) => {
  await openApp(page, 'wasm');

  // An RGBA cut-out is its own mask (no segmenter); added through the file picker.
  await addSubject(page, fixture('cutout.png'), {
    via: 'picker',
    before: async () => {
      await expect(page.getByTestId('mask-preview')).toContainText('transparency');
      await page.getByTestId('draft-name').fill('Star tile');
    },
  });
  const names = ['Star tile'];
  await expectLibraryUnchanged(page, names);

  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-subject').click()]);
  const good = path.join(GENERATED, 'star-tile.dreamcache');
  await download.saveAs(good);
  const bytes = readFileSync(good);

  // Photos.
  await dropFile(page, fixture('not-an-image.png'), 'holiday.png', 'image/png');
  await expectError(page, /“holiday\.png” is not a JPEG, PNG or WebP image/);
  await expectLibraryUnchanged(page, names);

  await dropFile(page, fixture('empty.png'));
  await expectError(page, /“empty\.png” is empty \(0 bytes\)/);
  await expectLibraryUnchanged(page, names);

  // 60 megapixels, refused from the header (decoding it would need 240 MB).
  const huge = hugePng(8000, 7500);
  await dropFile(page, huge, 'panorama.png', 'image/png');
  const hugeNotice = page.getByTestId('notice-error').last();
  await expect(hugeNotice).toContainText('8000×7500 (60.0 MP); the limit is 40.0 MP');
  await shot(page, '05-error-message');
  await expectError(page, /60\.0 MP/);
  await expectLibraryUnchanged(page, names);

  // Share files: one flipped byte in the cache data, cut short, empty, not a share file at all.
  const flipped = Buffer.from(bytes);
  flipped[flipped.length - 100] ^= 0xff;
  const corrupted = path.join(GENERATED, 'corrupted.dreamcache');
  writeFileSync(corrupted, flipped);
  await dropFile(page, corrupted);
  await expectError(page, /“corrupted\.dreamcache” was not imported: .+\((checksum|bad_values)\)/);
  await expectLibraryUnchanged(page, names);

  const truncated = path.join(GENERATED, 'truncated.dreamcache');
  writeFileSync(truncated, bytes.subarray(0, Math.floor(bytes.length / 2)));
  await page.getByTestId('cache-input').setInputFiles(truncated);
  await expectError(page, /“truncated\.dreamcache” was not imported: .+\((truncated|size_mismatch)\)/);
  await expectLibraryUnchanged(page, names);

  const empty = path.join(GENERATED, 'empty.dreamcache');
  writeFileSync(empty, Buffer.alloc(0));
  await dropFile(page, empty);
  await expectError(page, /“empty\.dreamcache” is empty \(0 bytes\)/);
  await expectLibraryUnchanged(page, names);

  // Sound, but made with another model and with no picture to rebuild it from.
  const elsewhere = path.join(GENERATED, 'elsewhere.dreamcache');
  writeFileSync(elsewhere, otherModelWithoutPicture(bytes));
  await dropFile(page, elsewhere);
  await expectError(page, /“elsewhere\.dreamcache” was not imported: it was made with another model \(“another-model”\) and carries no picture/);
  await expectLibraryUnchanged(page, names);

  await dropFile(page, fixture('subject-photo.jpg'), 'photo.dreamcache');
  await expectError(page, /“photo\.dreamcache” was not imported: .+\(bad_magic\)/);
  await expectLibraryUnchanged(page, names);

  // Nothing reached storage either.
  await page.reload();
  await expect(page.getByTestId('backend-badge')).toBeVisible({ timeout: 120_000 });
  await expectLibraryUnchanged(page, names);

  // And the good file still imports (a second copy of the subject).
  await dropFile(page, good);
  await expect(page.getByTestId('subject-name')).toHaveText(['Star tile', 'Star tile']);
});
