// Runs one ONNX graph with onnxruntime-web (wasm, the runtime the app ships) for the Python
// parity tests: node onnx_run.mjs <dir>, where <dir>/spec.json names the model, the inputs
// (raw little-endian .bin files) and the outputs to write back, and optionally
// "externalData": [{"path": "<location in the graph>", "file": "<file to read>"}], passed to
// onnxruntime-web as the app passes it (src/runtime/sessions.ts).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-web';

const dir = process.argv[2];
const spec = JSON.parse(readFileSync(join(dir, 'spec.json'), 'utf8'));
ort.env.wasm.numThreads = 1;
const options = {};
if (spec.externalData) {
  options.externalData = spec.externalData.map((e) => ({ path: e.path, data: readFileSync(e.file) }));
}
const session = await ort.InferenceSession.create(readFileSync(spec.model), options);
const feeds = {};
for (const [name, inp] of Object.entries(spec.inputs)) {
  const buf = readFileSync(join(dir, inp.file));
  const bytes = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
  const data = inp.dtype === 'int64' ? new BigInt64Array(bytes) : new Float32Array(bytes);
  feeds[name] = new ort.Tensor(inp.dtype, data, inp.dims);
}
const out = await session.run(feeds, spec.outputs);
const meta = {};
for (const name of spec.outputs) {
  const t = out[name];
  writeFileSync(join(dir, `${name}.out.bin`), Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  meta[name] = t.dims;
}
writeFileSync(join(dir, 'outputs.json'), JSON.stringify(meta));
// onnxruntime-web keeps the process alive for a while after its wasm loaded.
process.exit(0);
