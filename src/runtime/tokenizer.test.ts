import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { PackError } from './errors';
import { PackTokenizer } from './tokenizer';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const tokenizerJson = JSON.parse(readFileSync(resolve(root, 'training/data/tokenizer.json'), 'utf8'));
const fixture = JSON.parse(
  readFileSync(resolve(root, 'training/tests/fixtures/tokenizer_parity.json'), 'utf8'),
) as {
  maxLength: number;
  padTokenId: number;
  bosTokenId: number;
  eosTokenId: number;
  cases: { text: string; ids: number[] }[];
};
const opts = {
  maxLength: fixture.maxLength,
  padTokenId: fixture.padTokenId,
  bosTokenId: fixture.bosTokenId,
  eosTokenId: fixture.eosTokenId,
};

describe('PackTokenizer', () => {
  const tok = PackTokenizer.fromJSON(tokenizerJson, opts);

  it('matches the Python encoder on all parity captions', () => {
    expect(fixture.cases.length).toBe(1000);
    const mismatches: string[] = [];
    for (const c of fixture.cases) {
      const got = Array.from(tok.encode(c.text), Number);
      if (JSON.stringify(got) !== JSON.stringify(c.ids)) {
        mismatches.push(`${JSON.stringify(c.text)}\n  js ${got.join(' ')}\n  py ${c.ids.join(' ')}`);
      }
    }
    expect(mismatches.slice(0, 5).join('\n')).toBe('');
  });

  it('pads to maxLength and keeps EOS when truncating', () => {
    const short = tok.encode('a photo of a dog');
    expect(short.length).toBe(77);
    expect(short[0]).toBe(1n);
    const eos = short.indexOf(2n);
    expect(eos).toBeGreaterThan(1);
    expect([...short.slice(eos + 1)].every((v) => v === 0n)).toBe(true);
    const long = tok.encode('a dog '.repeat(100));
    expect(long.length).toBe(77);
    expect(long[76]).toBe(2n);
    expect(long.includes(0n)).toBe(false);
  });

  it('encodes a batch row-major', () => {
    const texts = ['a dog', '', 'a pizza on a beach'];
    const batch = tok.encodeBatch(texts);
    expect(batch.length).toBe(3 * 77);
    texts.forEach((t, b) => expect(batch.slice(b * 77, (b + 1) * 77)).toEqual(tok.encode(t)));
  });

  it('refuses special ids that disagree with the tokenizer', () => {
    expect(() => PackTokenizer.fromJSON(tokenizerJson, { ...opts, bosTokenId: 5 })).toThrow(PackError);
    expect(() => PackTokenizer.fromJSON({}, opts)).toThrow(PackError);
  });
});
