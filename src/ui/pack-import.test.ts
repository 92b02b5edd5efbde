import { describe, expect, it } from 'vitest';
import { blobsByName, blobsFromDirectory } from './pack-import';

function file(name: string, relativePath: string, text = name): File {
  const f = new File([text], name);
  Object.defineProperty(f, 'webkitRelativePath', { value: relativePath });
  return f;
}

describe('picked pack files', () => {
  it('keys files by plain name; a folder pick keeps the top level over subfolders', async () => {
    const byName = blobsByName([
      file('unet.onnx', 'sd15/old/unet.onnx', 'old'),
      file('unet.onnx', 'sd15/unet.onnx', 'top'),
      file('manifest.json', 'sd15/manifest.json'),
    ]);
    expect(Object.keys(byName).sort()).toEqual(['manifest.json', 'unet.onnx']);
    expect(await byName['unet.onnx'].text()).toBe('top');
    // a multi-file pick has no relative paths
    expect(Object.keys(blobsByName([new File(['a'], 'a.onnx'), new File(['b'], 'b.onnx')]))).toEqual(['a.onnx', 'b.onnx']);
  });
  it('reads the top-level files of a directory handle', async () => {
    const handle = {
      name: 'pack',
      async *values() {
        yield { kind: 'file' as const, name: 'manifest.json', getFile: async () => new File(['{}'], 'manifest.json') };
        yield { kind: 'directory' as const, name: 'extra' };
      },
    };
    expect(Object.keys(await blobsFromDirectory(handle))).toEqual(['manifest.json']);
  });
});
