import fs from 'node:fs';
import {initSync, WasmReader} from '@contentauth/c2pa-wasm';
initSync({module: fs.readFileSync(new URL(import.meta.resolve('@contentauth/c2pa-wasm/c2pa.wasm')))});
const [f, t] = process.argv.slice(2);
try { const r = await WasmReader.fromBytes(t, new Uint8Array(fs.readFileSync(f)));
  console.log(r.json());
} catch (e) { console.log('err', e); }
