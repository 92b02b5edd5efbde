// CLIP-style prompt tokenizer of a pack: @huggingface/tokenizers does normalization,
// pre-tokenization and BPE; this wrapper adds the pack's fixed-length layout
// (BOS, tokens, EOS, then padding), the same as training/dreamcache/tokenizer.py.
import { Tokenizer } from '@huggingface/tokenizers';
import { InputError, PackError } from './errors';

export interface PackTokenizerOptions {
  maxLength: number;
  padTokenId: number;
  bosTokenId: number;
  eosTokenId: number;
}

export class PackTokenizer {
  private constructor(
    private readonly tokenizer: Tokenizer,
    readonly options: Readonly<PackTokenizerOptions>,
  ) {}

  static fromJSON(json: object, opts: PackTokenizerOptions): PackTokenizer {
    const { maxLength, padTokenId, bosTokenId, eosTokenId } = opts;
    if (!Number.isInteger(maxLength) || maxLength < 2) {
      throw new PackError(`tokenizer.maxLength must be an integer >= 2, got ${maxLength}`);
    }
    let tokenizer: Tokenizer;
    try {
      tokenizer = new Tokenizer(json, {});
    } catch (e) {
      throw new PackError(`tokenizer.json could not be loaded: ${(e as Error).message}`);
    }
    // The ids the manifest names must be the tokens the post-processor actually emits, or the
    // text encoder would see a layout it was never trained on.
    const probe = tokenizer.encode('').ids;
    if (probe.length !== 2 || probe[0] !== bosTokenId || probe[1] !== eosTokenId) {
      throw new PackError(
        `tokenizer.json wraps text in [${probe.join(', ')}], manifest says BOS ${bosTokenId} / EOS ${eosTokenId}`,
      );
    }
    if (tokenizer.id_to_token(padTokenId) === undefined) {
      throw new PackError(`tokenizer.padTokenId ${padTokenId} is not in the vocabulary`);
    }
    return new PackTokenizer(tokenizer, { maxLength, padTokenId, bosTokenId, eosTokenId });
  }

  /** Token ids without padding: BOS, tokens, EOS, cut to maxLength keeping EOS last. */
  ids(text: string): number[] {
    if (typeof text !== 'string') throw new InputError('prompt must be a string');
    const { maxLength, eosTokenId } = this.options;
    const ids = this.tokenizer.encode(text).ids;
    if (ids.length <= maxLength) return ids;
    const cut = ids.slice(0, maxLength - 1);
    cut.push(eosTokenId);
    return cut;
  }

  /** `input_ids` row for text_encoder.onnx: length maxLength, padded with padTokenId. */
  encode(text: string): BigInt64Array {
    const out = new BigInt64Array(this.options.maxLength).fill(BigInt(this.options.padTokenId));
    this.ids(text).forEach((id, i) => {
      out[i] = BigInt(id);
    });
    return out;
  }

  /** Rows of `encode` concatenated: the [B, maxLength] int64 tensor data, row-major. */
  encodeBatch(texts: readonly string[]): BigInt64Array {
    const L = this.options.maxLength;
    const out = new BigInt64Array(texts.length * L);
    texts.forEach((t, b) => out.set(this.encode(t), b * L));
    return out;
  }
}
