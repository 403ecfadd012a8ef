package ortlib

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
)

// httpAttempts is how many times one URL is requested before giving up;
// after the first, each attempt resumes where the last one stopped.
const httpAttempts = 5

// fetchHTTP downloads the release archive at archiveURL into dir, checks it, and
// returns the library inside it as a temporary file in dir.
func fetchHTTP(ctx context.Context, o Options, p platform, dir, archiveURL string) (string, error) {
	f, err := os.CreateTemp(dir, tempPattern)
	if err != nil {
		return "", fmt.Errorf("ortlib: download file: %w", err)
	}
	defer func() {
		f.Close()
		os.Remove(f.Name())
	}()
	if err := download(ctx, o, archiveURL, f); err != nil {
		return "", err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", fmt.Errorf("ortlib: read download: %w", err)
	}
	h := sha256.New()
	lib, err := extractArchive(io.TeeReader(f, h), dir, p, releaseEntry(p.releaseEntries))
	if err != nil {
		return "", fmt.Errorf("ortlib: %s: %w", path.Base(archiveURL), err)
	}
	archiveSum := hex.EncodeToString(h.Sum(nil))
	switch want := o.archiveSHA256(); {
	case want != "" && want != archiveSum:
		removeExtracted(lib)
		return "", fmt.Errorf("%w: %s has sha256 %s, want %s", ErrChecksum, archiveURL, archiveSum, want)
	case want != "":
		// verified against the user's pin
	case p.npmSHA256 != "" && lib.sha256 == p.npmSHA256:
		// the same build as the pinned npm library
	default:
		o.logf("%s is not verified: no sha256 is pinned for it (archive sha256 %s, library sha256 %s); set $%s to pin the archive",
			archiveURL, archiveSum, lib.sha256, EnvSHA256)
	}
	return lib.tmp, nil
}

// statusError is an HTTP response that is not the file.
type statusError struct {
	code int
}

func (e *statusError) Error() string {
	return fmt.Sprintf("HTTP %d %s", e.code, http.StatusText(e.code))
}

// temporary reports whether asking again may help.
func (e *statusError) temporary() bool {
	switch e.code {
	case http.StatusTooManyRequests, http.StatusRequestTimeout,
		http.StatusRequestedRangeNotSatisfiable: // the next attempt starts from byte 0
		return true
	}
	return e.code >= 500
}

// download writes archiveURL's body to f, retrying with growing waits and
// resuming with a Range request after an interrupted transfer.
func download(ctx context.Context, o Options, archiveURL string, f *os.File) error {
	d := &resumable{url: archiveURL, f: f, client: o.HTTPClient, idle: o.idleTimeout}
	if d.client == nil {
		d.client = defaultClient()
	}
	if d.idle == 0 {
		d.idle = 60 * time.Second
	}
	if o.Progress != nil {
		d.progress = o.Progress
	}
	defer d.finishBar()
	wait := o.retryDelay
	if wait == 0 {
		wait = time.Second
	}
	var err error
	for attempt := 1; ; attempt++ {
		err = d.attempt(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil || !retryable(err) || attempt == httpAttempts {
			break
		}
		o.logf("download attempt %d stopped after %d bytes (%v); retrying in %v", attempt, d.have, err, wait)
		select {
		case <-ctx.Done():
			return fmt.Errorf("ortlib: %w (after %v)", ctx.Err(), err)
		case <-time.After(wait):
		}
		wait *= 2
	}
	if ctx.Err() != nil {
		return fmt.Errorf("ortlib: download: %w", ctx.Err())
	}
	return fmt.Errorf("ortlib: download: %w", err)
}

// retryable reports whether another attempt may succeed after err: not
// after an HTTP status that will not change, nor for a host name that does
// not resolve.
func retryable(err error) bool {
	var se *statusError
	if errors.As(err, &se) {
		return se.temporary()
	}
	var dns *net.DNSError
	if errors.As(err, &dns) && dns.IsNotFound {
		return false
	}
	return true
}

func defaultClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.ResponseHeaderTimeout = 60 * time.Second
	t.DialContext = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	return &http.Client{Transport: t}
}

// resumable is the state of one download across its attempts.
type resumable struct {
	url      string
	f        *os.File
	client   *http.Client
	idle     time.Duration
	have     int64  // bytes of the body already in f
	total    int64  // full body length; -1 unknown
	ifRange  string // validator proving the server still has the same file
	progress io.Writer
	bar      *progressbar.ProgressBar
}

// attempt requests the rest of the body and appends it to f.
func (d *resumable) attempt(ctx context.Context) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.url, nil)
	if err != nil {
		return err
	}
	// Ask for the bytes as stored: a transparently decompressed body would
	// make byte offsets meaningless for Range.
	req.Header.Set("Accept-Encoding", "identity")
	if d.have > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", d.have))
		if d.ifRange != "" {
			req.Header.Set("If-Range", d.ifRange)
		}
	}
	resp, err := d.client.Do(req)
	if err != nil {
		// The caller names the URL already; keep only what went wrong.
		if ue, ok := errors.AsType[*url.Error](err); ok {
			return ue.Err
		}
		return err
	}
	defer resp.Body.Close()

	switch resp.StatusCode {
	case http.StatusOK:
		// A full body: the first request, or a server that ignored Range
		// or whose file changed (If-Range failed). Start over.
		d.have, d.total = 0, resp.ContentLength
		if err := d.f.Truncate(0); err != nil {
			return err
		}
	case http.StatusPartialContent:
		start, total, err := parseContentRange(resp.Header.Get("Content-Range"))
		if err != nil || start != d.have {
			d.have = 0 // cannot splice this; ask for everything next time
			return fmt.Errorf("unusable partial response %q", resp.Header.Get("Content-Range"))
		}
		d.total = total
	case http.StatusRequestedRangeNotSatisfiable:
		d.have = 0
		return &statusError{resp.StatusCode}
	default:
		return &statusError{resp.StatusCode}
	}
	if v := resp.Header.Get("ETag"); v != "" && !strings.HasPrefix(v, "W/") {
		d.ifRange = v
	} else {
		d.ifRange = resp.Header.Get("Last-Modified")
	}
	if _, err := d.f.Seek(d.have, io.SeekStart); err != nil {
		return err
	}
	d.startBar()

	// The watchdog cancels the request when no byte arrives for d.idle: a
	// stalled connection must not hang the install forever.
	watchdog := time.AfterFunc(d.idle, func() { cancel(fmt.Errorf("no data for %v", d.idle)) })
	defer watchdog.Stop()
	buf := make([]byte, 256<<10)
	for {
		n, rerr := resp.Body.Read(buf)
		if n > 0 {
			watchdog.Reset(d.idle)
			if _, err := d.f.Write(buf[:n]); err != nil {
				return fmt.Errorf("ortlib: write download: %w", err)
			}
			d.have += int64(n)
			if d.bar != nil {
				d.bar.Set64(d.have)
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			if cause := context.Cause(ctx); cause != nil && ctx.Err() != nil {
				return fmt.Errorf("%w: %w", rerr, cause)
			}
			return rerr
		}
	}
	if d.total >= 0 && d.have != d.total {
		return fmt.Errorf("body ended after %d of %d bytes: %w", d.have, d.total, io.ErrUnexpectedEOF)
	}
	return nil
}

func (d *resumable) startBar() {
	if d.progress == nil {
		return
	}
	if d.bar == nil || d.bar.GetMax64() != d.total {
		d.finishBar()
		d.bar = newBar(d.progress, d.total, path.Base(d.url))
	}
	d.bar.Set64(d.have)
}

func (d *resumable) finishBar() {
	if d.bar == nil {
		return
	}
	// Finish also stops an unknown-length bar's spinner goroutine; a known
	// length that was not reached is left as it stands.
	if d.total < 0 || d.have == d.total {
		d.bar.Finish()
	} else {
		d.bar.Exit()
	}
	d.bar = nil
}

// parseContentRange reads "bytes START-END/TOTAL" (TOTAL may be "*").
func parseContentRange(s string) (start, total int64, err error) {
	rest, ok := strings.CutPrefix(s, "bytes ")
	span, size, ok2 := strings.Cut(rest, "/")
	first, _, ok3 := strings.Cut(span, "-")
	if !ok || !ok2 || !ok3 {
		return 0, 0, fmt.Errorf("bad Content-Range %q", s)
	}
	if start, err = strconv.ParseInt(first, 10, 64); err != nil || start < 0 {
		return 0, 0, fmt.Errorf("bad Content-Range %q", s)
	}
	if size == "*" {
		return start, -1, nil
	}
	if total, err = strconv.ParseInt(size, 10, 64); err != nil || total <= start {
		return 0, 0, fmt.Errorf("bad Content-Range %q", s)
	}
	return start, total, nil
}
