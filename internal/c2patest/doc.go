// Package c2patest has tests check C2PA files with c2pa-rs, the C2PA
// reference implementation, compiled to WebAssembly (the npm package
// @contentauth/c2pa-wasm) and run by Node through c2pa/testdata/verify.mjs.
// .ci/run installs the package into c2pa/testdata/node_modules; where
// Node or the package is missing, the tests that need it skip.
package c2patest
