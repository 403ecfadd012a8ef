// verify.mjs reads C2PA manifests with c2pa-rs compiled to WebAssembly
// (the npm package @contentauth/c2pa-wasm, installed next to this script
// by .ci/run) and prints one JSON line per file:
//
//   node verify.mjs [--trust CA.pem] FILE...
//
// {"file", "state" (c2pa-rs validation_state: Trusted, Valid, Invalid),
//  "success", "failure", "informational" (status codes of the active
//  manifest), "assertions" (label -> data), "error" (when c2pa-rs refused
//  the file)}. The Go test in ../wasm_test.go runs it.
import fs from 'node:fs';
import path from 'node:path';
import {initSync, WasmReader} from '@contentauth/c2pa-wasm';

const wasm = new URL(import.meta.resolve('@contentauth/c2pa-wasm/c2pa.wasm'));
initSync({module: fs.readFileSync(wasm)});

const args = process.argv.slice(2);
let context = null;
if (args[0] === '--trust') {
  context = JSON.stringify({trust: {trust_anchors: fs.readFileSync(args[1], 'utf8')}});
  args.splice(0, 2);
}
const mime = {'.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg'};

for (const file of args) {
  const out = {file};
  try {
    const type = mime[path.extname(file).toLowerCase()];
    if (!type) throw new Error(`no media type for ${file}`);
    const reader = await WasmReader.fromBytes(type, new Uint8Array(fs.readFileSync(file)), context);
    const store = JSON.parse(reader.json());
    const active = store.manifests?.[store.active_manifest] ?? {};
    const results = store.validation_results?.activeManifest ?? {};
    const codes = (list) => (list ?? []).map((s) => s.code);
    out.state = store.validation_state;
    out.success = codes(results.success);
    out.failure = codes(results.failure);
    out.informational = codes(results.informational);
    out.claim_version = active.claim_version;
    out.assertions = Object.fromEntries((active.assertions ?? []).map((a) => [a.label, a.data]));
    reader.free();
  } catch (e) {
    out.error = String(e);
  }
  console.log(JSON.stringify(out));
}
