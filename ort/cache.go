package ort

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"
)

// GraphCache keeps the graphs ONNX Runtime optimizes, so that the second
// and later loads of a model skip the optimizer: the first load writes the
// optimized graph and its weights into an entry of Dir as the session
// opens, later loads open that entry with graph optimization off. For an
// SD 1.5 UNet this turns a load of most of a minute into a few seconds.
//
// An entry is keyed by the model's content (the sampled fingerprint of the
// model file and of the external data files its initializers name, see
// digestFile, or the hash of the bytes given to OpenBytes and the
// fingerprint of their external data),
// the ONNX Runtime version, the CPU (the optimized graph may use kernels
// and weight layouts of this processor), the execution provider and the
// options that change the graph. Each entry records the size and sampled
// hash of its files; an entry that does not match them, or that ONNX
// Runtime cannot load, is removed and rebuilt. A cache folder that cannot
// be written (read-only, full) never fails a load: the model is loaded
// uncached with a notice.
//
// Processes may share a folder: an entry is written under a temporary name
// and renamed into place when complete. Only CPU sessions are cached.
type GraphCache struct {
	// Dir holds the entries, one folder each ("" = DefaultGraphCacheDir).
	Dir string
	// MinModelBytes leaves smaller models uncached: their optimization
	// takes less time than writing and checking an entry (0 = cache all).
	MinModelBytes int64

	// freeBytes reports the space left under a folder (tests replace it).
	freeBytes func(dir string) (int64, error)
}

// DefaultGraphCacheDir returns $XDG_CACHE_HOME/imagegen/graphs on Linux
// (os.UserCacheDir elsewhere), or a folder under os.TempDir when the user
// has no cache folder.
func DefaultGraphCacheDir() string {
	base, err := os.UserCacheDir()
	if err != nil || base == "" {
		base = os.TempDir()
	}
	return filepath.Join(base, "imagegen", "graphs")
}

// DefaultMinCachedModelBytes is the MinModelBytes the command line uses:
// below it ONNX Runtime optimizes a graph in about a second.
const DefaultMinCachedModelBytes = 64 << 20

// GraphCacheEntry describes one entry of a GraphCache.
type GraphCacheEntry struct {
	Key     string    // folder name under Dir
	Source  string    // the model file (or OpenBytes name) it was made from
	Runtime string    // ONNX Runtime version that wrote it
	Device  string    // execution provider, as --device spells it
	Bytes   int64     // size of its files
	Created time.Time // when it was written
	Used    time.Time // when it was last loaded
	// Err says why the entry is unusable (nil for a sound one); the next
	// load of its model rebuilds it.
	Err error
}

// Files of an entry.
const (
	entryGraph    = "model.onnx"
	entryManifest = "entry.json"
	entryFormat   = 1
	tmpInfix      = ".tmp-"
)

type manifest struct {
	Format  int          `json:"format"`
	Source  string       `json:"source"`
	Runtime string       `json:"onnxruntime"`
	Device  string       `json:"device"`
	Created time.Time    `json:"created"`
	Files   []fileDigest `json:"files"`
}

func (c *GraphCache) dir() string {
	if c.Dir == "" {
		return DefaultGraphCacheDir()
	}
	return c.Dir
}

// open loads src through the cache.
func (c *GraphCache) open(src modelSource, in, out []IOInfo, opts Options) (*Session, error) {
	opts.Cache = nil
	notice := func(format string, args ...any) {
		if opts.Notice != nil {
			opts.Notice("graph cache: " + fmt.Sprintf(format, args...))
		}
	}
	// Resolve DeviceAuto once, so the key names the provider in use and
	// the CPU fallback notice is not repeated by the loads below.
	so, dev, err := opts.sessionOptions()
	if err != nil {
		return nil, fmt.Errorf("ort: open model %s: %w", src.name, err)
	}
	so.Destroy()
	opts.Device = dev
	if dev.Kind != DeviceCPU {
		// A graph optimized for CUDA may hold the copies between host and
		// device that the provider inserted; loading it again has not been
		// tried on a GPU, so CUDA sessions load uncached.
		return src.open(in, out, opts)
	}
	key, total, err := cacheKey(src, opts)
	if err != nil {
		notice("cannot fingerprint %s (%v); loading it uncached", src.name, err)
		return src.open(in, out, opts)
	}
	if total < c.MinModelBytes {
		return src.open(in, out, opts)
	}
	entry := filepath.Join(c.dir(), key)
	if _, err := os.Stat(entry); err == nil {
		s, err := c.openEntry(src, in, out, opts, entry)
		if err == nil {
			return s, nil
		}
		notice("entry %s of %s is unusable (%v); rebuilding it", key, src.name, firstLine(err.Error()))
		os.RemoveAll(entry)
	}
	return c.build(src, in, out, opts, key, total, notice)
}

// openEntry loads the optimized graph in entry after checking its files.
func (c *GraphCache) openEntry(src modelSource, in, out []IOInfo, opts Options, entry string) (*Session, error) {
	m, err := checkEntry(entry)
	if err != nil {
		return nil, err
	}
	if m.Runtime != Version() {
		return nil, fmt.Errorf("written by ONNX Runtime %s, not %s", m.Runtime, Version())
	}
	opts.OptLevel = OptDisabled // the graph is already optimized
	opts.OptimizedModelPath = ""
	if _, ok := opts.Config[cfgExternalDataFolder]; ok {
		opts.Config = withoutKey(opts.Config, cfgExternalDataFolder)
	}
	graph := filepath.Join(entry, entryGraph)
	s, err := newSession(src.name, in, out, src.ops, opts, fromFile(graph))
	if err != nil {
		return nil, err
	}
	s.cacheHit = true
	now := time.Now()
	os.Chtimes(filepath.Join(entry, entryManifest), now, now) // last use, for cache ls
	return s, nil
}

// build loads src with ONNX Runtime writing its optimized graph into a new
// entry. When the entry cannot be written the model is loaded uncached.
func (c *GraphCache) build(src modelSource, in, out []IOInfo, opts Options, key string, total int64, notice func(string, ...any)) (*Session, error) {
	tmp, err := c.prepare(key, total)
	if err != nil {
		notice("cannot write to %s (%v); loading %s uncached", c.dir(), err, src.name)
		return src.open(in, out, opts)
	}
	notice("first load of %s: saving its optimized graph in %s (later loads skip the optimizer)", src.name, c.dir())
	wopts := opts
	wopts.OptimizedModelPath = filepath.Join(tmp, entryGraph)
	// Save the weights as the kernels prepacked them too: later loads map
	// them from the file instead of packing copies on the heap (an SD 1.5
	// UNet: 1.1 GB less heap, for an entry 1.1 GB larger than the model).
	// Not for MatMulNBits: ONNX Runtime 1.29 reloads its saved packing
	// wrongly (NaN from a quantized SD 1.5 UNet), so it packs at each load.
	wopts.Config = map[string]string{}
	if !hasPrepackBrokenOp(src.ops) {
		wopts.Config[cfgSavePrepacked] = "1"
	}
	maps.Copy(wopts.Config, opts.Config)
	s, err := src.open(in, out, wopts)
	if err != nil {
		os.RemoveAll(tmp)
		// Saving may be what failed (a disk that filled up); a model that
		// cannot load fails again here, with its own error.
		s, uerr := src.open(in, out, opts)
		if uerr != nil {
			return nil, uerr
		}
		notice("could not save the optimized graph of %s (%v); loaded it uncached", src.name, firstLine(err.Error()))
		return s, nil
	}
	if err := commitEntry(tmp, filepath.Join(c.dir(), key), src.name, opts.Device); err != nil {
		os.RemoveAll(tmp)
		notice("could not keep the optimized graph of %s: %v", src.name, err)
	}
	return s, nil
}

// prepare makes the temporary folder an entry is written into, after
// checking there is room for about twice the model (the optimized weights
// plus the prepacked copies written beside them).
func (c *GraphCache) prepare(key string, total int64) (string, error) {
	dir := c.dir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	removeStaleTemps(dir)
	free := c.freeBytes
	if free == nil {
		free = freeDiskBytes
	}
	if n, err := free(dir); err == nil && n < 2*total {
		return "", fmt.Errorf("%d MiB free, the entry needs up to %d MiB", n>>20, (2*total)>>20)
	}
	return os.MkdirTemp(dir, key+tmpInfix)
}

// removeStaleTemps removes temporary folders left by loads that died: a
// day is far longer than any load, so no live process still writes them.
func removeStaleTemps(dir string) {
	names, _ := filepath.Glob(filepath.Join(dir, "*"+tmpInfix+"*"))
	for _, n := range names {
		if st, err := os.Stat(n); err == nil && time.Since(st.ModTime()) > 24*time.Hour {
			os.RemoveAll(n)
		}
	}
}

// commitEntry records the files ONNX Runtime wrote in tmp and renames tmp
// to entry. The files are synced first, so a crash cannot leave an entry
// whose manifest is on disk and whose weights are not.
func commitEntry(tmp, entry, source string, dev Device) error {
	names, err := os.ReadDir(tmp)
	if err != nil {
		return err
	}
	m := manifest{Format: entryFormat, Source: source, Runtime: Version(), Device: dev.String(), Created: time.Now().UTC()}
	sawGraph := false
	for _, n := range names {
		path := filepath.Join(tmp, n.Name())
		if err := syncFile(path); err != nil {
			return err
		}
		d, err := digestFile(path, false)
		if err != nil {
			return err
		}
		sawGraph = sawGraph || n.Name() == entryGraph
		m.Files = append(m.Files, d)
	}
	if !sawGraph {
		return errors.New("ONNX Runtime wrote no optimized graph")
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(tmp, entryManifest), data, 0o644); err != nil {
		return err
	}
	if err := syncFile(filepath.Join(tmp, entryManifest)); err != nil {
		return err
	}
	if err := os.Rename(tmp, entry); err != nil {
		if _, serr := os.Stat(entry); serr == nil {
			return nil // another process committed the same entry first
		}
		return err
	}
	return nil
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// checkEntry reads an entry's manifest and checks its files against it.
func checkEntry(entry string) (manifest, error) {
	var m manifest
	data, err := os.ReadFile(filepath.Join(entry, entryManifest))
	if err != nil {
		return m, fmt.Errorf("no manifest: %w", err)
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return m, fmt.Errorf("manifest: %w", err)
	}
	if m.Format != entryFormat {
		return m, fmt.Errorf("manifest format %d, want %d", m.Format, entryFormat)
	}
	if len(m.Files) == 0 {
		return m, errors.New("manifest lists no files")
	}
	for _, want := range m.Files {
		got, err := digestFile(filepath.Join(entry, want.Name), false)
		switch {
		case err != nil:
			return m, err
		case got.Size != want.Size:
			return m, fmt.Errorf("%s has %d bytes, the manifest says %d", want.Name, got.Size, want.Size)
		case got.Sample != want.Sample:
			return m, fmt.Errorf("%s does not match its recorded hash", want.Name)
		}
	}
	return m, nil
}

// cacheKey names the entry of src under opts; total is the size of the
// model's files.
func cacheKey(src modelSource, opts Options) (key string, total int64, err error) {
	h := sha256.New()
	fmt.Fprintf(h, "imagegen graph cache %d\x00onnxruntime %s\x00%s/%s %s\x00device %s\x00opt %d\x00",
		entryFormat, Version(), runtime.GOOS, runtime.GOARCH, cpuIdentity(), opts.Device, opts.OptLevel)
	keys := make([]string, 0, len(opts.Config))
	for k := range opts.Config {
		if k != cfgExternalDataFolder { // where the weights are is not what they are
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(h, "config %s=%s\x00", k, opts.Config[k])
	}
	if hasPrepackBrokenOp(src.ops) {
		// Saved unpacked (see build): a new key, so that an entry written
		// prepacked by an earlier imagegen is never served.
		fmt.Fprintf(h, "unpacked\x00")
	}
	files := make([]string, 0, 1+len(src.external))
	if src.path != "" {
		files = append(files, src.path)
	} else {
		sum := sha256.Sum256(src.data)
		fmt.Fprintf(h, "bytes %x\x00", sum)
		total = int64(len(src.data))
	}
	for _, loc := range src.external {
		files = append(files, filepath.Join(src.dataDir, loc))
	}
	for _, f := range files {
		d, err := digestFile(f, true)
		if err != nil {
			return "", 0, err
		}
		fmt.Fprintf(h, "file %s %d %s\x00", d.Name, d.Size, d.Sample)
		total += d.Size
	}
	return hex.EncodeToString(h.Sum(nil))[:32], total, nil
}

// cpuIdentity names the processor model and its instruction-set flags
// (Linux; "" elsewhere): an optimized graph holds weights laid out for
// this processor's kernels.
func cpuIdentity() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	var parts []string
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "model name", "flags", "Features", "CPU part":
			parts = append(parts, strings.TrimSpace(v))
		}
		if len(parts) >= 2 {
			break
		}
	}
	sum := sha256.Sum256([]byte(strings.Join(parts, "\n")))
	return hex.EncodeToString(sum[:8])
}

func withoutKey(m map[string]string, key string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		if k != key {
			out[k] = v
		}
	}
	return out
}

// Entries lists the cache's entries, newest use first. A missing folder
// is an empty cache.
func (c *GraphCache) Entries() ([]GraphCacheEntry, error) {
	dir := c.dir()
	names, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ort: graph cache %s: %w", dir, err)
	}
	var out []GraphCacheEntry
	for _, n := range names {
		if !n.IsDir() || !isEntryName(n.Name()) {
			continue
		}
		path := filepath.Join(dir, n.Name())
		e := GraphCacheEntry{Key: n.Name(), Bytes: folderBytes(path)}
		m, err := checkEntry(path)
		e.Err = err
		e.Source, e.Runtime, e.Device, e.Created = m.Source, m.Runtime, m.Device, m.Created
		if st, err := os.Stat(filepath.Join(path, entryManifest)); err == nil {
			e.Used = st.ModTime()
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Used.After(out[j].Used) })
	return out, nil
}

// Clear removes every entry (and any temporary folder of an entry being
// written) and returns how many entries and bytes it removed. Other files
// in Dir are left alone.
func (c *GraphCache) Clear() (entries int, bytes int64, err error) {
	dir := c.dir()
	names, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("ort: graph cache %s: %w", dir, err)
	}
	for _, n := range names {
		name := n.Name()
		tmp := strings.Contains(name, tmpInfix) && isEntryName(name[:strings.Index(name, tmpInfix)])
		if !n.IsDir() || !(isEntryName(name) || tmp) {
			continue
		}
		path := filepath.Join(dir, name)
		size := folderBytes(path)
		if err := os.RemoveAll(path); err != nil {
			return entries, bytes, fmt.Errorf("ort: graph cache: %w", err)
		}
		if !tmp {
			entries++
		}
		bytes += size
	}
	return entries, bytes, nil
}

// isEntryName reports whether name is a cache key (32 hex digits).
func isEntryName(name string) bool {
	if len(name) != 32 {
		return false
	}
	_, err := hex.DecodeString(name)
	return err == nil
}

func folderBytes(dir string) int64 {
	var n int64
	names, _ := os.ReadDir(dir)
	for _, e := range names {
		if info, err := e.Info(); err == nil && info.Mode().IsRegular() {
			n += info.Size()
		}
	}
	return n
}

// hasPrepackBrokenOp reports whether ops holds an operator whose prepacked
// weights ONNX Runtime cannot reload from a saved graph (see build).
func hasPrepackBrokenOp(ops []Op) bool {
	for _, op := range ops {
		if op.Domain == "com.microsoft" && op.Type == "MatMulNBits" {
			return true
		}
	}
	return false
}
