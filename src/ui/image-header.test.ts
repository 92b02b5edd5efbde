import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { deflateSync } from 'node:zlib';
import { sniffImageHeader } from './image-header';

const fixture = (name: string) => new Uint8Array(readFileSync(new URL(`../../e2e/fixtures/${name}`, import.meta.url)));

function pngHeader(width: number, height: number): Uint8Array {
  const b = Buffer.alloc(33);
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).copy(b, 0);
  b.writeUInt32BE(13, 8);
  b.write('IHDR', 12, 'ascii');
  b.writeUInt32BE(width, 16);
  b.writeUInt32BE(height, 20);
  return new Uint8Array(b);
}

describe('sniffImageHeader', () => {
  it('reads PNG dimensions from IHDR without decoding', () => {
    expect(sniffImageHeader(pngHeader(8000, 7500))).toEqual({ format: 'png', width: 8000, height: 7500 });
    expect(sniffImageHeader(fixture('cutout.png'))).toEqual({ format: 'png', width: 400, height: 400 });
  });

  it('reads JPEG dimensions from the frame header, past an EXIF segment (stored, not displayed, size)', () => {
    expect(sniffImageHeader(fixture('subject-photo.jpg'))).toEqual({ format: 'jpeg', width: 640, height: 480 });
  });

  it('reads the three WebP flavours', () => {
    const riff = (chunk: string, body: number[]) => {
      const b = new Uint8Array(40);
      b.set([...'RIFF'].map((c) => c.charCodeAt(0)), 0);
      b.set([...'WEBP'].map((c) => c.charCodeAt(0)), 8);
      b.set([...chunk].map((c) => c.charCodeAt(0)), 12);
      b.set(body, 20);
      return b;
    };
    // VP8X: 24-bit (w-1), (h-1) at byte 24.
    expect(sniffImageHeader(riff('VP8X', [0, 0, 0, 0, 0x1f, 0x03, 0, 0x57, 0x02, 0]))).toEqual({ format: 'webp', width: 800, height: 600 });
    // VP8 (lossy): frame tag, start code, 14-bit sizes.
    expect(sniffImageHeader(riff('VP8 ', [0, 0, 0, 0x9d, 0x01, 0x2a, 0x20, 0x03, 0x58, 0x02]))).toEqual({ format: 'webp', width: 800, height: 600 });
    // VP8L: signature 0x2f, then 14-bit (w-1) | 14-bit (h-1) << 14.
    const bits = 799 | (599 << 14);
    expect(sniffImageHeader(riff('VP8L', [0x2f, bits & 0xff, (bits >> 8) & 0xff, (bits >> 16) & 0xff, bits >>> 24]))).toEqual({
      format: 'webp',
      width: 800,
      height: 600,
    });
  });

  it('refuses text, empty and truncated input', () => {
    expect(sniffImageHeader(fixture('not-an-image.png'))).toBeNull();
    expect(sniffImageHeader(new Uint8Array(0))).toBeNull();
    expect(sniffImageHeader(pngHeader(10, 10).subarray(0, 20))).toBeNull();
    expect(sniffImageHeader(fixture('subject-photo.jpg').subarray(0, 100))).toBeNull();
    expect(sniffImageHeader(new Uint8Array(deflateSync(Buffer.from('hello'))))).toBeNull();
  });
});
