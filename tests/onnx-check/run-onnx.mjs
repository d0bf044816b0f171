// Runs an ONNX model in ONNX Runtime (CPU) and prints every output as JSON, so the .NET tests can
// compare the exported model with Network.Predict without a .NET binding for the runtime.
// Usage: node run-onnx.mjs MODEL.onnx INPUTS.json
//   INPUTS.json: { "<input name>": { "dims": [N, D], "data": [N·D floats, row-major] }, ... }
//   stdout:      { "<output name>": { "dims": [...], "data": [...] }, ... }
import { readFile } from 'node:fs/promises';
import ort from 'onnxruntime-node';

const [modelPath, inputsPath] = process.argv.slice(2);
if (!modelPath || !inputsPath) {
  console.error('usage: node run-onnx.mjs MODEL.onnx INPUTS.json');
  process.exit(2);
}

const session = await ort.InferenceSession.create(await readFile(modelPath), {
  executionProviders: ['cpu'],
  // One thread: the machine is shared, and results must not depend on how work is split.
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
});

const given = JSON.parse(await readFile(inputsPath, 'utf8'));
const feeds = {};
for (const name of session.inputNames) {
  const value = given[name];
  if (!value) throw new Error(`input '${name}' is missing from ${inputsPath}`);
  feeds[name] = new ort.Tensor('float32', Float32Array.from(value.data), value.dims);
}

const results = await session.run(feeds);
const out = {};
for (const name of session.outputNames) {
  const t = results[name];
  // Each float32 widens exactly to a double, and JSON keeps doubles exactly, so nothing is rounded here.
  out[name] = { dims: t.dims.map(Number), data: Array.from(t.data) };
}
process.stdout.write(JSON.stringify(out));
