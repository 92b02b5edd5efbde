// The pack fingerprint ties .dreamcache files to the model that made them; the Python exporter
// and the TypeScript runtime must compute the same value for every committed pack.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packFingerprint, validateManifest } from './pack';

const MODELS = resolve(__dirname, '../../public/models');
const packs = readdirSync(MODELS).filter((d) => existsSync(resolve(MODELS, d, 'manifest.json')));

describe('pack fingerprint: Python == TypeScript', () => {
  it.each(packs)('%s', async (name) => {
    const dir = resolve(MODELS, name);
    const out = execFileSync('/usr/bin/python3', ['-c', [
      'import json, sys',
      'sys.path.insert(0, "training")',
      'from dreamcache.pack_check import pack_fingerprint',
      `print(pack_fingerprint(json.load(open(${JSON.stringify(resolve(dir, 'manifest.json'))}))))`,
    ].join('\n')], { cwd: resolve(__dirname, '../..'), encoding: 'utf8' }).trim();
    const manifest = validateManifest(JSON.parse(readFileSync(resolve(dir, 'manifest.json'), 'utf8')));
    expect(await packFingerprint(manifest)).toBe(out);
    expect(out).toMatch(/^[0-9a-f]{64}$/);
  });
});
