// Encodes texts with @huggingface/tokenizers (the library the app uses) for the Python tests:
// node tokenize_run.mjs <tokenizer.json> '<JSON array of texts>' → JSON array of id arrays.
import { readFileSync } from 'node:fs';
import { Tokenizer } from '@huggingface/tokenizers';

const tokenizer = new Tokenizer(JSON.parse(readFileSync(process.argv[2], 'utf8')), {});
const texts = JSON.parse(process.argv[3]);
console.log(JSON.stringify(texts.map((t) => tokenizer.encode(t).ids)));
