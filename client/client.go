package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Client talks to one server.
type Client struct {
	// BaseURL is the server's root, for example "http://127.0.0.1:8080".
	BaseURL string
	// APIKey is sent as a Bearer token when set.
	APIKey string
	// HTTP is the client used (default http.DefaultClient).
	HTTP *http.Client
}

// New returns a client for the server at baseURL.
func New(baseURL, apiKey string) *Client {
	return &Client{BaseURL: strings.TrimRight(baseURL, "/"), APIKey: apiKey}
}

// JobRequest is what a job asks for; zero values mean the model's
// defaults (and a random seed when Seed is nil).
type JobRequest struct {
	Model          string   `json:"model,omitempty"`
	Prompt         string   `json:"prompt"`
	NegativePrompt string   `json:"negative_prompt,omitempty"`
	N              int      `json:"n,omitempty"`
	Size           string   `json:"size,omitempty"` // "WxH"
	Steps          int      `json:"steps,omitempty"`
	Guidance       *float64 `json:"guidance,omitempty"`
	Seed           *uint64  `json:"seed,omitempty"`
	Scheduler      string   `json:"scheduler,omitempty"`
	OutputFormat   string   `json:"output_format,omitempty"` // png or jpeg
	// Preview asks for a latent preview with every step event.
	Preview bool `json:"preview,omitempty"`
}

// Job is a job's status.
type Job struct {
	ID         string   `json:"id"`
	Status     string   `json:"status"` // queued, running, succeeded, failed, cancelled
	Step       int      `json:"step"`
	TotalSteps int      `json:"total_steps"`
	Error      string   `json:"error,omitempty"`
	Results    []Result `json:"results,omitempty"`
	Info       *Info    `json:"info,omitempty"`
}

// Done reports whether the job has reached a final state.
func (j *Job) Done() bool {
	return j.Status == "succeeded" || j.Status == "failed" || j.Status == "cancelled"
}

// Result is one picture of a finished job, readable at URL until the
// server's retention time passes.
type Result struct {
	URL string `json:"url"`
}

// Info describes a finished run.
type Info struct {
	Model     string  `json:"model"`
	Width     int     `json:"width"`
	Height    int     `json:"height"`
	Steps     int     `json:"steps"`
	Guidance  float64 `json:"guidance"`
	Scheduler string  `json:"scheduler"`
	Seed      uint64  `json:"seed"`
}

// Step is one progress event.
type Step struct {
	Step       int    `json:"step"`
	TotalSteps int    `json:"total_steps"`
	Preview    string `json:"preview,omitempty"` // a data: URL, when asked for
}

// Error is an error answer of the server.
type Error struct {
	StatusCode int
	Type       string `json:"type"`
	Code       string `json:"code"`
	Message    string `json:"message"`
	// RetryAfter is the server's Retry-After header (429).
	RetryAfter string
}

func (e *Error) Error() string {
	return fmt.Sprintf("imagegen server: %d %s: %s", e.StatusCode, e.Code, e.Message)
}

func (c *Client) do(ctx context.Context, method, path string, body any) (*http.Response, error) {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		r = bytes.NewReader(b)
	}
	url := path
	if strings.HasPrefix(path, "/") {
		url = c.BaseURL + path
	}
	req, err := http.NewRequestWithContext(ctx, method, url, r)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.APIKey)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 400 {
		defer resp.Body.Close()
		e := &Error{StatusCode: resp.StatusCode, RetryAfter: resp.Header.Get("Retry-After")}
		var wrapper struct {
			Error *Error `json:"error"`
		}
		wrapper.Error = e
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if json.Unmarshal(b, &wrapper) != nil || e.Message == "" {
			e.Message = strings.TrimSpace(string(b))
		}
		return nil, e
	}
	return resp, nil
}

func (c *Client) doJSON(ctx context.Context, method, path string, body, out any) error {
	resp, err := c.do(ctx, method, path, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(out)
}

// Submit creates a job; the server answers at once.
func (c *Client) Submit(ctx context.Context, r JobRequest) (*Job, error) {
	var j Job
	return &j, c.doJSON(ctx, "POST", "/v1/jobs", r, &j)
}

// Job returns a job's status.
func (c *Client) Job(ctx context.Context, id string) (*Job, error) {
	var j Job
	return &j, c.doJSON(ctx, "GET", "/v1/jobs/"+id, nil, &j)
}

// Cancel stops a job.
func (c *Client) Cancel(ctx context.Context, id string) (*Job, error) {
	var j Job
	return &j, c.doJSON(ctx, "DELETE", "/v1/jobs/"+id, nil, &j)
}

// Wait follows a job's events until it ends, calling onStep (if not nil)
// for each step, and returns its final status.
func (c *Client) Wait(ctx context.Context, id string, onStep func(Step)) (*Job, error) {
	resp, err := c.do(ctx, "GET", "/v1/jobs/"+id+"/events", nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var event string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data := []byte(strings.TrimPrefix(line, "data: "))
			if event == "step" {
				var s Step
				if err := json.Unmarshal(data, &s); err == nil && onStep != nil {
					onStep(s)
				}
				continue
			}
			var j Job
			if err := json.Unmarshal(data, &j); err != nil {
				return nil, fmt.Errorf("imagegen client: event: %w", err)
			}
			if j.Done() {
				return &j, nil
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	// The stream ended early (the server is shutting down): ask.
	return c.Job(ctx, id)
}

// Download fetches a result's picture.
func (c *Client) Download(ctx context.Context, r Result) ([]byte, error) {
	resp, err := c.do(ctx, "GET", r.URL, nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}
