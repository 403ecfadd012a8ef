// Package ortlib finds or installs the ONNX Runtime shared library that
// imagegen loads at run time.
//
// Locate resolves an existing library from, in order, Options.Path (the
// --ort-lib flag), $IMAGEGEN_ORT_LIB, $ONNXRUNTIME_SHARED_LIBRARY_PATH and the
// user cache (<CacheDir>/<Version>/libonnxruntime.so.1 on Linux). Install
// fetches ONNX Runtime Version into that cache, and Ensure does Locate and
// then, only when nothing was found, Install.
//
// Install tries two sources in turn:
//
//  1. The npm package onnxruntime-node@Version, fetched by the npm client
//     (so the user's registry, proxy and credentials settings apply). The
//     tarball is checked against the sha512 integrity the client reports, and
//     the library inside it against a sha256 pinned in this package. The
//     tarball (about 110 MB) also stays in the npm client's own cache, which
//     makes a reinstall fast and is the client's to clean.
//  2. An HTTP(S) download of the official release archive from the
//     microsoft/onnxruntime GitHub releases, or of the mirror named by
//     Options.URL / $IMAGEGEN_ORT_URL. Interrupted transfers resume with Range
//     requests. The archive is checked against Options.SHA256 /
//     $IMAGEGEN_ORT_SHA256 when one is given; without one the library is
//     accepted when it is byte-identical to the pinned npm build and otherwise
//     installed with a notice that it could not be verified (the release
//     archive's own checksum is not pinned here because it could not be
//     measured from the machines this package was written on).
//
// Installs are atomic (a temporary file renamed into place, so a reader never
// sees a half-written library) and serialized between processes by a lock
// file in the cache folder.
//
// ortlib does not load the library or talk to ONNX Runtime: it has no cgo and
// only deals in file paths. Loading sessions is the job of package ort.
package ortlib
