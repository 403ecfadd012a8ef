package ortlib

import (
	"bytes"
	"fmt"
	"runtime"
)

// hostGOOS and hostGOARCH name the platform whose library is located and
// installed; they are variables only so the table can be tested.
var (
	hostGOOS   = runtime.GOOS
	hostGOARCH = runtime.GOARCH
)

// platform says where the library for one GOOS/GOARCH lives in each source.
type platform struct {
	// npmEntry is the library's path inside the onnxruntime-node tarball.
	npmEntry string
	// npmSHA256 is the sha256 of npmEntry in onnxruntime-node@Version,
	// measured once and pinned here.
	npmSHA256 string
	// releaseAsset is the file name of the official release archive.
	releaseAsset string
	// releaseEntries are the library's paths inside the release archive,
	// below its top folder, best first.
	releaseEntries []string
	// magic are the byte prefixes a real library of this platform starts
	// with; they catch an HTML error page saved as a library.
	magic [][]byte
}

var (
	elfMagic   = [][]byte{[]byte("\x7fELF")}
	machoMagic = [][]byte{{0xcf, 0xfa, 0xed, 0xfe}, {0xca, 0xfe, 0xba, 0xbe}}
)

// platforms lists the builds onnxruntime-node@1.29.0 and the 1.29.0 GitHub
// release ship. The npm digests were measured on the published tarball
// (integrity sha512-WjiVVB72…SiPA==). darwin/amd64 has no npm build and is
// served by the release archive only.
var platforms = map[string]platform{
	"linux/amd64": {
		npmEntry:       "package/bin/napi-v6/linux/x64/libonnxruntime.so.1",
		npmSHA256:      "89688f5cf51c7e31befbb7b9101bc027799009b18d1baa9a5b1146a72e69538d",
		releaseAsset:   "onnxruntime-linux-x64-" + Version + ".tgz",
		releaseEntries: linuxReleaseEntries,
		magic:          elfMagic,
	},
	"linux/arm64": {
		npmEntry:       "package/bin/napi-v6/linux/arm64/libonnxruntime.so.1",
		npmSHA256:      "a27d21126db312aa8f02f3d5eaebe466e991f51f469882e6d0407d5a8b64afda",
		releaseAsset:   "onnxruntime-linux-aarch64-" + Version + ".tgz",
		releaseEntries: linuxReleaseEntries,
		magic:          elfMagic,
	},
	"darwin/arm64": {
		npmEntry:       "package/bin/napi-v6/darwin/arm64/libonnxruntime." + Version + ".dylib",
		npmSHA256:      "3e4c63909e9fc6648c93c68741c1ccf1e3d89218dd1d6a7d4f3d629ffc7f9918",
		releaseAsset:   "onnxruntime-osx-arm64-" + Version + ".tgz",
		releaseEntries: darwinReleaseEntries,
		magic:          machoMagic,
	},
	"darwin/amd64": {
		releaseAsset:   "onnxruntime-osx-x86_64-" + Version + ".tgz",
		releaseEntries: darwinReleaseEntries,
		magic:          machoMagic,
	},
}

// The release archives keep the versioned file as the only regular file and
// the shorter names as symlinks to it; the shorter names are accepted too
// for mirrors that repack the archive with the links dereferenced.
var (
	linuxReleaseEntries  = []string{"lib/libonnxruntime.so." + Version, "lib/libonnxruntime.so.1", "lib/libonnxruntime.so"}
	darwinReleaseEntries = []string{"lib/libonnxruntime." + Version + ".dylib", "lib/libonnxruntime.dylib"}
)

// releaseBaseURL is the folder of the official release's assets.
const releaseBaseURL = "https://github.com/microsoft/onnxruntime/releases/download/v" + Version + "/"

// hostPlatform returns the table entry for this machine.
func hostPlatform() (platform, error) {
	key := hostGOOS + "/" + hostGOARCH
	p, ok := platforms[key]
	if !ok {
		return platform{}, fmt.Errorf("%w: %s (builds are fetched for linux/amd64, linux/arm64, darwin/arm64 and darwin/amd64)", ErrUnsupportedPlatform, key)
	}
	return p, nil
}

// cacheLibName is the file name the library is installed under.
func cacheLibName(goos string) string {
	switch goos {
	case "darwin":
		return "libonnxruntime.dylib"
	case "windows":
		return "onnxruntime.dll"
	default:
		return "libonnxruntime.so.1"
	}
}

// hasMagic reports whether head starts like a library of p.
func (p platform) hasMagic(head []byte) bool {
	for _, m := range p.magic {
		if bytes.HasPrefix(head, m) {
			return true
		}
	}
	return false
}
