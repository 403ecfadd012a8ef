package hub

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// downloadAll fetches files into rc's blobs and links them into the
// commit's snapshot, at most c.parallel() at a time. The first failure
// cancels the other transfers and is returned.
func (c *Client) downloadAll(ctx context.Context, rc repoCache, commit string, files []remoteFile) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	bars := newBarSet(c.ProgressBars)
	sem := make(chan struct{}, c.parallel())
	errs := make([]error, len(files))
	var wg sync.WaitGroup
	for i, f := range files {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				errs[i] = ctx.Err()
				return
			}
			defer func() { <-sem }()
			if err := c.fetchFile(ctx, rc, commit, f, bars); err != nil {
				errs[i] = err
				cancel()
			}
		}()
	}
	wg.Wait()
	var first error
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
		if first == nil {
			first = err
		}
	}
	return first
}

// fetchFile makes snapshots/<commit>/<f.Path> point at a verified blob,
// downloading the blob unless it is cached.
func (c *Client) fetchFile(ctx context.Context, rc repoCache, commit string, f remoteFile, bars *barSet) error {
	if rc.hasPointer(commit, f.Path, f.Size) {
		return nil
	}
	blob := rc.blobPath(f.ETag)
	if blobReady(blob, f.Size) {
		return rc.link(commit, f.Path, f.ETag)
	}
	for _, d := range []string{filepath.Dir(blob), rc.locks} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("hub: %w", err)
		}
	}
	unlock, err := lockFile(filepath.Join(rc.locks, f.ETag+".lock"))
	if err != nil {
		return fmt.Errorf("hub: lock %s: %w", f.Path, err)
	}
	defer unlock()
	// Another process may have finished the blob while we waited.
	if !blobReady(blob, f.Size) {
		if err := c.downloadBlob(ctx, rc, commit, f, blob, bars); err != nil {
			return err
		}
	}
	return rc.link(commit, f.Path, f.ETag)
}

func blobReady(blob string, size int64) bool {
	st, err := os.Stat(blob)
	return err == nil && st.Mode().IsRegular() && (size < 0 || st.Size() == size)
}

// downloadBlob transfers f into blob+".incomplete", resuming what an
// earlier attempt left there, verifies it and renames it to blob.
func (c *Client) downloadBlob(ctx context.Context, rc repoCache, commit string, f remoteFile, blob string, bars *barSet) error {
	tmp := blob + ".incomplete"
	file, err := os.OpenFile(tmp, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("hub: %w", err)
	}
	defer file.Close()
	bar := bars.add(f.Path, f.Size)
	var last int64
	report := func(done int64, finished bool) {
		if done < 0 {
			done = last
		}
		last = done
		bar.set(done, finished)
		if c.Progress != nil {
			c.Progress(Progress{Path: f.Path, Done: done, Total: f.Size, Finished: finished})
		}
	}
	u := c.resolveURL(rc.ref, commit, f.Path)
	err = c.withRetries(ctx, func() (bool, error) {
		return c.transfer(ctx, rc.ref, u, f, file, report)
	})
	if err == nil {
		err = verifyBlob(file, f)
	}
	if err != nil {
		report(-1, true)
		// A checksum failure condemns the bytes; an empty file holds
		// nothing worth resuming.
		if st, serr := file.Stat(); errors.Is(err, ErrChecksum) || serr == nil && st.Size() == 0 {
			file.Close()
			os.Remove(tmp)
		}
		return err
	}
	if err := file.Close(); err != nil {
		return fmt.Errorf("hub: %s: %w", f.Path, err)
	}
	if err := os.Rename(tmp, blob); err != nil {
		return fmt.Errorf("hub: publish %s: %w", f.Path, err)
	}
	st, _ := os.Stat(blob)
	report(st.Size(), true)
	return nil
}

// transfer makes one GET of u, asking for the bytes file lacks, and
// appends the answer; it reports whether a failure is worth a retry.
func (c *Client) transfer(ctx context.Context, ref Ref, u string, f remoteFile, file *os.File, report func(int64, bool)) (bool, error) {
	off, err := file.Seek(0, io.SeekEnd)
	if err != nil {
		return false, fmt.Errorf("hub: %s: %w", f.Path, err)
	}
	if f.Size >= 0 && off > f.Size {
		if off, err = restart(file); err != nil {
			return false, err
		}
	}
	if f.Size >= 0 && off == f.Size {
		return false, nil
	}
	hdr := http.Header{}
	if off > 0 {
		hdr.Set("Range", "bytes="+strconv.FormatInt(off, 10)+"-")
	}
	resp, err := c.do(ctx, http.MethodGet, u, hdr)
	if err != nil {
		return retryable(err), err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		if off > 0 {
			if off, err = restart(file); err != nil {
				return false, err
			}
		}
	case http.StatusPartialContent:
		if start, ok := contentRangeStart(resp.Header.Get("Content-Range")); !ok || start != off {
			_, rerr := restart(file)
			return rerr == nil, fmt.Errorf("hub: %s: server resumed at %q, want byte %d", f.Path, resp.Header.Get("Content-Range"), off)
		}
	case http.StatusRequestedRangeNotSatisfiable:
		_, rerr := restart(file)
		return rerr == nil, fmt.Errorf("hub: %s: partial file longer than the server's", f.Path)
	default:
		serr := c.statusError(resp, ref, f.Path)
		return serr.transient(), serr
	}
	report(off, false)
	done := off
	buf := make([]byte, 256<<10)
	for {
		n, rerr := resp.Body.Read(buf)
		if n > 0 {
			if _, werr := file.Write(buf[:n]); werr != nil {
				return false, fmt.Errorf("hub: write %s: %w", f.Path, werr)
			}
			done += int64(n)
			report(done, false)
		}
		if rerr == io.EOF {
			return false, nil
		}
		if rerr != nil {
			return retryable(rerr) && ctx.Err() == nil, fmt.Errorf("hub: download %s: %w", f.Path, rerr)
		}
	}
}

// restart empties a partial file that cannot be resumed.
func restart(file *os.File) (int64, error) {
	if err := file.Truncate(0); err != nil {
		return 0, fmt.Errorf("hub: %w", err)
	}
	_, err := file.Seek(0, io.SeekStart)
	return 0, err
}

// contentRangeStart reads the first byte position of "bytes START-END/SIZE".
func contentRangeStart(h string) (int64, bool) {
	rest, ok := strings.CutPrefix(h, "bytes ")
	if !ok {
		return 0, false
	}
	start, _, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(start, 10, 64)
	return n, err == nil
}

// verifyBlob checks the downloaded file's size and hash (sha256 for LFS
// files, the git blob sha1 for the others) against the listing.
func verifyBlob(file *os.File, f remoteFile) error {
	st, err := file.Stat()
	if err != nil {
		return fmt.Errorf("hub: %s: %w", f.Path, err)
	}
	if f.Size >= 0 && st.Size() != f.Size {
		return fmt.Errorf("%w: %s: got %d bytes, want %d", ErrChecksum, f.Path, st.Size(), f.Size)
	}
	var h hash.Hash
	var want string
	switch {
	case f.SHA256 != "":
		h, want = sha256.New(), f.SHA256
	case f.GitSHA1 != "":
		h, want = sha1.New(), f.GitSHA1
		fmt.Fprintf(h, "blob %d\x00", st.Size())
	default:
		return nil
	}
	if _, err := file.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("hub: %s: %w", f.Path, err)
	}
	if _, err := io.Copy(h, file); err != nil {
		return fmt.Errorf("hub: hash %s: %w", f.Path, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return fmt.Errorf("%w: %s: got %s, want %s; the partial download was deleted", ErrChecksum, f.Path, got, want)
	}
	return nil
}
