package ortlib

import (
	"bytes"
	"context"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"

	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
)

// npmSpec is the package whose tarball carries Microsoft's prebuilt
// libraries for every platform.
const npmSpec = "onnxruntime-node@" + Version

// fetchNPM fetches npmSpec with the npm client, checks the tarball against
// the integrity the registry reports and the library against the pinned
// sha256, and returns the library as a temporary file in dir. The npm
// client, not this package, decides which registry to ask.
func fetchNPM(ctx context.Context, o Options, p platform, dir string) (string, error) {
	npm := o.npmCommand
	if npm == "" {
		npm = "npm"
	}
	exe, err := exec.LookPath(npm)
	if err != nil {
		return "", fmt.Errorf("npm client not found: %w", err)
	}
	work, err := os.MkdirTemp(dir, tempPattern)
	if err != nil {
		return "", fmt.Errorf("ortlib: npm work folder: %w", err)
	}
	defer os.RemoveAll(work)

	var integrity string
	if err := runNPM(ctx, exe, work, &integrity, "view", npmSpec, "dist.integrity"); err != nil {
		return "", err
	}
	want, err := parseSRISHA512(integrity)
	if err != nil {
		return "", fmt.Errorf("ortlib: npm view %s dist.integrity: %w", npmSpec, err)
	}

	o.logf("npm pack %s (about 110 MB; the npm client shows no progress)", npmSpec)
	var packed []struct {
		Filename string `json:"filename"`
	}
	if err := runNPM(ctx, exe, work, &packed, "pack", npmSpec, "--ignore-scripts"); err != nil {
		return "", err
	}
	if len(packed) != 1 || packed[0].Filename == "" || filepath.Base(packed[0].Filename) != packed[0].Filename {
		return "", fmt.Errorf("ortlib: npm pack %s: unexpected report %+v", npmSpec, packed)
	}
	tarball := filepath.Join(work, packed[0].Filename)
	return extractNPMTarball(tarball, want, o, p, dir)
}

// extractNPMTarball verifies tarball against the sha512 digest want and
// returns p's library from it, verified against p.npmSHA256.
func extractNPMTarball(tarball string, want []byte, o Options, p platform, dir string) (string, error) {
	f, err := os.Open(tarball)
	if err != nil {
		return "", fmt.Errorf("ortlib: open npm tarball: %w", err)
	}
	defer f.Close()
	h := sha512.New()
	var r io.Reader = io.TeeReader(f, h)
	if o.Progress != nil {
		if st, err := f.Stat(); err == nil {
			bar := newBar(o.Progress, st.Size(), "extract "+filepath.Base(tarball))
			defer bar.Finish()
			r = io.TeeReader(r, bar)
		}
	}
	lib, err := extractArchive(r, dir, p, exactEntry(p.npmEntry))
	if err != nil {
		return "", fmt.Errorf("ortlib: %s: %w", filepath.Base(tarball), err)
	}
	if got := h.Sum(nil); !bytes.Equal(got, want) {
		removeExtracted(lib)
		return "", fmt.Errorf("%w: %s has sha512 %s, the registry's integrity says %s", ErrChecksum,
			filepath.Base(tarball), base64.StdEncoding.EncodeToString(got), base64.StdEncoding.EncodeToString(want))
	}
	if lib.sha256 != p.npmSHA256 {
		removeExtracted(lib)
		return "", fmt.Errorf("%w: %s in %s has sha256 %s, want the pinned %s", ErrChecksum, p.npmEntry, npmSpec, lib.sha256, p.npmSHA256)
	}
	return lib.tmp, nil
}

// runNPM runs npm with args and --json in folder work and decodes its
// standard output into out. npm's own notices are kept out of the way; its
// error output ends up in the returned error.
func runNPM(ctx context.Context, exe, work string, out any, args ...string) error {
	args = append(args, "--json")
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Dir = work
	cmd.Env = append(os.Environ(),
		"npm_config_update_notifier=false", "npm_config_fund=false",
		"npm_config_audit=false", "npm_config_loglevel=error")
	var stdout bytes.Buffer
	stderr := &tailBuffer{max: 600}
	cmd.Stdout = &stdout
	cmd.Stderr = stderr
	what := "npm " + strings.Join(args[:2], " ")
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("ortlib: %s: %w", what, ctx.Err())
		}
		msg := strings.Join(strings.Fields(stderr.String()), " ")
		if msg == "" {
			msg = strings.Join(strings.Fields(stdout.String()), " ")
		}
		return fmt.Errorf("ortlib: %s: %w: %s", what, err, msg)
	}
	if err := json.Unmarshal(stdout.Bytes(), out); err != nil {
		return fmt.Errorf("ortlib: %s: read its --json output: %w", what, err)
	}
	return nil
}

// parseSRISHA512 returns the sha512 digest in a Subresource Integrity
// string ("sha512-<base64>", possibly among other hashes).
func parseSRISHA512(sri string) ([]byte, error) {
	for _, tok := range strings.Fields(sri) {
		b64, ok := strings.CutPrefix(tok, "sha512-")
		if !ok {
			continue
		}
		if i := strings.IndexByte(b64, '?'); i >= 0 {
			b64 = b64[:i] // SRI options
		}
		sum, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return nil, fmt.Errorf("integrity %q: %w", sri, err)
		}
		if len(sum) != sha512.Size {
			return nil, fmt.Errorf("integrity %q: sha512 digest is %d bytes, want %d", sri, len(sum), sha512.Size)
		}
		return sum, nil
	}
	return nil, fmt.Errorf("integrity %q has no sha512 digest", sri)
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = t.buf[over:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return string(t.buf) }

// newBar draws a byte progress bar of size total (-1 when unknown) on w.
func newBar(w io.Writer, total int64, desc string) *progressbar.ProgressBar {
	return progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionShowBytes(true),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSpinnerType(14),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
	)
}
