package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// remoteFile is one file of a revision, as the listing describes it.
type remoteFile struct {
	Path string
	Size int64 // -1 when unknown
	// ETag names the blob: SHA256 for LFS files, GitSHA1 for the others.
	ETag    string
	SHA256  string // set for LFS files
	GitSHA1 string // the git blob id, when listed
}

// revisionInfo is a listed revision.
type revisionInfo struct {
	Commit string
	Files  []remoteFile
}

// apiRevision is the JSON of GET /api/models/ORG/NAME/revision/REV?blobs=true.
type apiRevision struct {
	SHA      string `json:"sha"`
	Siblings []struct {
		RFilename string `json:"rfilename"`
		Size      *int64 `json:"size"`
		BlobID    string `json:"blobId"`
		LFS       *struct {
			SHA256 string `json:"sha256"`
			OID    string `json:"oid"`
			Size   int64  `json:"size"`
		} `json:"lfs"`
	} `json:"siblings"`
}

// listRevision asks the Hub for the commit and files of ref's revision.
func (c *Client) listRevision(ctx context.Context, ref Ref) (revisionInfo, error) {
	u := c.endpoint() + "/api/models/" + ref.Repo + "/revision/" + url.PathEscape(ref.revision()) + "?blobs=true"
	var info revisionInfo
	err := c.withRetries(ctx, func() (bool, error) {
		resp, err := c.do(ctx, http.MethodGet, u, nil)
		if err != nil {
			return retryable(err), err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			serr := c.statusError(resp, ref, "")
			return serr.transient(), serr
		}
		var raw apiRevision
		if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&raw); err != nil {
			return true, fmt.Errorf("hub: list %s at %s: %w", ref.Repo, ref.revision(), err)
		}
		info, err = raw.toInfo()
		if err != nil {
			return false, fmt.Errorf("hub: list %s at %s: %w", ref.Repo, ref.revision(), err)
		}
		return false, nil
	})
	return info, err
}

// completeMetadata asks for the ETag of the files the listing gave none.
func (c *Client) completeMetadata(ctx context.Context, ref Ref, commit string, files []remoteFile) error {
	for i := range files {
		if files[i].ETag != "" {
			continue
		}
		if err := c.headMetadata(ctx, ref, commit, &files[i]); err != nil {
			return err
		}
	}
	return nil
}

func (raw apiRevision) toInfo() (revisionInfo, error) {
	if !isCommitHash(raw.SHA) {
		return revisionInfo{}, fmt.Errorf("%w: commit %q", ErrUnsafePath, raw.SHA)
	}
	info := revisionInfo{Commit: raw.SHA}
	seen := map[string]bool{}
	for _, s := range raw.Siblings {
		if err := checkFileName(s.RFilename); err != nil {
			return revisionInfo{}, err
		}
		if seen[s.RFilename] {
			return revisionInfo{}, fmt.Errorf("%w: file %q listed twice", ErrUnsafePath, s.RFilename)
		}
		seen[s.RFilename] = true
		f := remoteFile{Path: s.RFilename, Size: -1, GitSHA1: strings.ToLower(s.BlobID)}
		if s.Size != nil {
			f.Size = *s.Size
		}
		if s.LFS != nil {
			f.SHA256 = strings.ToLower(s.LFS.SHA256)
			if f.SHA256 == "" {
				f.SHA256 = strings.ToLower(strings.TrimPrefix(s.LFS.OID, "sha256:"))
			}
			f.Size = s.LFS.Size
			f.ETag = f.SHA256
		} else {
			f.ETag = f.GitSHA1
		}
		if f.ETag != "" {
			if err := checkETag(f.ETag); err != nil {
				return revisionInfo{}, err
			}
		}
		info.Files = append(info.Files, f)
	}
	return info, nil
}

// headMetadata fills f's ETag and size from a HEAD on its resolve address,
// for listings without blob ids. Like huggingface_hub it does not follow a
// redirect to another host: the LFS headers are on the first answer.
func (c *Client) headMetadata(ctx context.Context, ref Ref, commit string, f *remoteFile) error {
	u := c.resolveURL(ref, commit, f.Path)
	return c.withRetries(ctx, func() (bool, error) {
		resp, err := c.doNoRedirect(ctx, http.MethodHead, u)
		if err != nil {
			return retryable(err), err
		}
		resp.Body.Close()
		if resp.StatusCode >= 400 {
			serr := c.statusError(resp, ref, f.Path)
			return serr.transient(), serr
		}
		etag := resp.Header.Get("X-Linked-Etag")
		if etag == "" {
			etag = resp.Header.Get("ETag")
		}
		f.ETag = normalizeETag(etag)
		if err := checkETag(f.ETag); err != nil {
			return false, fmt.Errorf("hub: HEAD %s: %w", u, err)
		}
		if s := resp.Header.Get("X-Linked-Size"); s != "" {
			if n, err := strconv.ParseInt(s, 10, 64); err == nil {
				f.Size = n
			}
		} else if resp.ContentLength >= 0 && resp.StatusCode == http.StatusOK {
			f.Size = resp.ContentLength
		}
		if resp.Header.Get("X-Linked-Etag") != "" && len(f.ETag) == 64 {
			f.SHA256 = strings.ToLower(f.ETag)
		} else if len(f.ETag) == 40 {
			f.GitSHA1 = strings.ToLower(f.ETag)
		}
		return false, nil
	})
}

func (c *Client) resolveURL(ref Ref, commit, name string) string {
	return c.endpoint() + "/" + ref.Repo + "/resolve/" + url.PathEscape(commit) + "/" + (&url.URL{Path: name}).EscapedPath()
}

// httpClient returns a copy of the configured client whose redirects drop
// the token when they leave the endpoint's host.
func (c *Client) httpClient(follow bool) *http.Client {
	base := c.HTTPClient
	if base == nil {
		base = http.DefaultClient
	}
	hc := *base
	hc.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if !follow {
			return http.ErrUseLastResponse
		}
		if len(via) >= 10 {
			return errors.New("hub: more than 10 redirects")
		}
		if req.URL.Host != via[0].URL.Host {
			req.Header.Del("Authorization")
		}
		return nil
	}
	return &hc
}

func (c *Client) newRequest(ctx context.Context, method, u string, header http.Header) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, fmt.Errorf("hub: %w", err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	ua := c.UserAgent
	if ua == "" {
		ua = "imagegen"
	}
	req.Header.Set("User-Agent", ua)
	// The identity encoding keeps Content-Length and Range meaningful.
	req.Header.Set("Accept-Encoding", "identity")
	if c.Token != "" && strings.HasPrefix(u, c.endpoint()+"/") {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	return req, nil
}

func (c *Client) do(ctx context.Context, method, u string, header http.Header) (*http.Response, error) {
	req, err := c.newRequest(ctx, method, u, header)
	if err != nil {
		return nil, err
	}
	resp, err := c.httpClient(true).Do(req)
	if err != nil {
		return nil, fmt.Errorf("hub: %s %s: %w", method, u, err)
	}
	return resp, nil
}

// doNoRedirect follows only redirects that stay on the same host (a
// renamed repository) and stops at the first one that leaves it.
func (c *Client) doNoRedirect(ctx context.Context, method, u string) (*http.Response, error) {
	for hops := 0; ; hops++ {
		req, err := c.newRequest(ctx, method, u, nil)
		if err != nil {
			return nil, err
		}
		resp, err := c.httpClient(false).Do(req)
		if err != nil {
			return nil, fmt.Errorf("hub: %s %s: %w", method, u, err)
		}
		loc, lerr := resp.Location()
		if resp.StatusCode < 300 || resp.StatusCode > 399 || lerr != nil || loc.Host != req.URL.Host || hops >= 10 {
			return resp, nil
		}
		resp.Body.Close()
		u = loc.String()
	}
}

// statusError maps an HTTP error answer to a StatusError wrapping the
// matching sentinel; file is "" for the listing.
func (c *Client) statusError(resp *http.Response, ref Ref, file string) *StatusError {
	e := &StatusError{
		Method:     resp.Request.Method,
		URL:        resp.Request.URL.Redacted(),
		StatusCode: resp.StatusCode,
		Code:       resp.Header.Get("X-Error-Code"),
		Message:    resp.Header.Get("X-Error-Message"),
	}
	tokenHint := "set HF_TOKEN or pass --token with a token that can read it"
	if c.Token != "" {
		tokenHint = "the token given (HF_TOKEN or --token) was refused or cannot read it"
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		e.kind = ErrUnauthorized
		e.Hint = fmt.Sprintf("repository %s is private, gated or does not exist: %s", ref.Repo, tokenHint)
	case resp.StatusCode == http.StatusForbidden:
		e.kind = ErrUnauthorized
		e.Hint = fmt.Sprintf("access to %s is restricted (gated repositories need their conditions accepted on the model page): %s", ref.Repo, tokenHint)
	case resp.StatusCode == http.StatusNotFound && e.Code == "RevisionNotFound":
		e.kind = ErrRevisionNotFound
		e.Hint = fmt.Sprintf("revision %q not found in %s", ref.revision(), ref.Repo)
	case resp.StatusCode == http.StatusNotFound && (e.Code == "EntryNotFound" || file != ""):
		e.kind = ErrEntryNotFound
		e.Hint = fmt.Sprintf("file %s not found in %s at %s", file, ref.Repo, ref.revision())
	case resp.StatusCode == http.StatusNotFound:
		e.kind = ErrRepoNotFound
		e.Hint = fmt.Sprintf("repository %s or its revision %q not found", ref.Repo, ref.revision())
		if e.Code == "RepoNotFound" {
			e.Hint = fmt.Sprintf("repository %s not found", ref.Repo)
		}
	}
	return e
}

// withRetries runs try until it succeeds, fails for good (retry false) or
// the retries run out, waiting with exponential backoff in between.
func (c *Client) withRetries(ctx context.Context, try func() (retry bool, err error)) error {
	n := c.Retries
	if n == 0 {
		n = 5
	}
	delay := c.RetryDelay
	if delay <= 0 {
		delay = time.Second
	}
	maxDelay := 16 * delay
	for attempt := 0; ; attempt++ {
		retry, err := try()
		if err == nil || !retry || attempt >= n || ctx.Err() != nil {
			return err
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return errors.Join(err, ctx.Err())
		case <-t.C:
		}
		delay = min(2*delay, maxDelay)
	}
}

// isUnreachable reports whether err means the Hub could not be reached at
// all (as opposed to an answer refusing the request).
func isUnreachable(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var se *StatusError
	if errors.As(err, &se) {
		return se.StatusCode >= 500
	}
	var ne net.Error
	var oe *net.OpError
	return errors.As(err, &oe) || errors.As(err, &ne) || errors.Is(err, syscall.ECONNREFUSED)
}

// retryable reports whether a transport error may pass on a retry: not
// when the name does not resolve, the host refuses connections or the
// caller gave up.
func retryable(err error) bool {
	var dns *net.DNSError
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return false
	case errors.As(err, &dns), errors.Is(err, syscall.ECONNREFUSED):
		return false
	}
	return true
}
