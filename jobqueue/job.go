package jobqueue

import (
	"context"
	"crypto/rand"
	"errors"
	"strings"
	"time"
)

// Spec is what a job asks for. It is plain data (JSON) so that it can
// travel to another process.
type Spec struct {
	Model          string   `json:"model"`
	Prompt         string   `json:"prompt"`
	NegativePrompt string   `json:"negative_prompt,omitempty"`
	N              int      `json:"n,omitempty"`
	Width          int      `json:"width,omitempty"`
	Height         int      `json:"height,omitempty"`
	Steps          int      `json:"steps,omitempty"`
	Guidance       *float64 `json:"guidance,omitempty"`
	Seed           uint64   `json:"seed"`
	Scheduler      string   `json:"scheduler,omitempty"`
	// InitImage and Mask are encoded pictures (PNG or JPEG) for img2img
	// and inpainting.
	InitImage []byte  `json:"init_image,omitempty"`
	Mask      []byte  `json:"mask,omitempty"`
	Strength  float64 `json:"strength,omitempty"`
	// Format is the output encoding: "png" (default) or "jpeg".
	Format string `json:"format,omitempty"`
	// Preview asks for a small picture of the latents with every step
	// event.
	Preview bool `json:"preview,omitempty"`
	// Timeout bounds the run (0 = the queue's default).
	Timeout time.Duration `json:"timeout,omitempty"`
	// Ephemeral says the client reads the results in the answer to the
	// request that made the job (OpenAI's b64_json, AUTOMATIC1111's
	// images): the in-process queue keeps them only
	// MemoryOptions.RetainEphemeral instead of Retain, so a busy
	// synchronous server does not hold every picture for an hour.
	Ephemeral bool `json:"ephemeral,omitempty"`
}

// State is where a job stands.
type State string

// The states of a job; the last three are final.
const (
	Queued    State = "queued"
	Running   State = "running"
	Succeeded State = "succeeded"
	Failed    State = "failed"
	Cancelled State = "cancelled"
)

// Final reports whether no further change can happen.
func (s State) Final() bool { return s == Succeeded || s == Failed || s == Cancelled }

// Image is one encoded output picture.
type Image struct {
	ContentType string `json:"content_type"`
	Data        []byte `json:"-"`
}

// Output is what a Runner returns for a finished job.
type Output struct {
	Images []Image `json:"images"`
	// Info describes the run (seed, steps, scheduler, ...); it is stored
	// with the job and shown in its status.
	Info Info `json:"info"`
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
	Seconds   float64 `json:"seconds"`
}

// Step is one progress report of a running job.
type Step struct {
	Step, Total int
	// Preview is a small PNG of the current latents, when asked for.
	Preview []byte
}

// Runner runs one job, calling progress after every step. It must return
// soon after ctx is cancelled.
type Runner func(ctx context.Context, spec Spec, progress func(Step)) (*Output, error)

// Status is a job's state as the API reports it.
type Status struct {
	ID      string    `json:"id"`
	State   State     `json:"status"`
	Created time.Time `json:"created_at"`
	Started time.Time `json:"started_at,omitzero"`
	Ended   time.Time `json:"finished_at,omitzero"`
	Step    int       `json:"step"`
	Total   int       `json:"total_steps"`
	// Position counts the jobs ahead of a queued job (0 = next).
	Position int    `json:"queue_position,omitempty"`
	Error    string `json:"error,omitempty"`
	// ErrorKind classifies Error: "bad_request", "not_supported",
	// "timeout" or "internal".
	ErrorKind string `json:"error_kind,omitempty"`
	// Results are keys in the result store, one per picture.
	Results []string `json:"-"`
	Info    *Info    `json:"info,omitempty"`
}

// Event is one entry of a job's event stream.
type Event struct {
	// Type is "status" (a state change) or "step".
	Type   string `json:"type"`
	Status Status `json:"status"`
	// Preview is set on step events of jobs that asked for previews.
	Preview []byte `json:"preview,omitempty"`
}

// Queue accepts jobs and reports on them. Implementations are safe for
// concurrent use.
type Queue interface {
	// Submit enqueues a job and returns its id; ErrFull when the queue
	// holds its maximum of waiting jobs.
	Submit(ctx context.Context, spec Spec) (string, error)
	// Status returns a job's status; ErrNotFound for unknown or expired
	// ids.
	Status(ctx context.Context, id string) (Status, error)
	// Cancel stops a job: a queued one never runs, a running one stops
	// within one model call.
	Cancel(ctx context.Context, id string) error
	// Events streams a job's events from its creation on, ending after
	// the final status event or when ctx ends.
	Events(ctx context.Context, id string) (<-chan Event, error)
	// Result returns a stored picture by the key a Status lists.
	Result(ctx context.Context, key string) (Image, error)
	// Stats reports the queue's occupancy.
	Stats() Stats
	// Close stops accepting jobs, cancels what runs after ctx ends and
	// releases resources.
	Close(ctx context.Context) error
}

// Stats is a queue's occupancy.
type Stats struct {
	Waiting, Running, MaxWaiting int
	// AvgRun is a moving average of the run time of finished jobs.
	AvgRun time.Duration
}

// Errors returned by Queue methods.
var (
	ErrFull     = errors.New("jobqueue: queue full")
	ErrNotFound = errors.New("jobqueue: no such job")
	ErrClosed   = errors.New("jobqueue: closed")
)

// NewID returns an unguessable identifier: 26 base32 characters, 130
// random bits.
func NewID() string { return strings.ToLower(rand.Text()) }

// RunError is an error a Runner returns with a kind the API can map to a
// status code.
type RunError struct {
	Kind string // "bad_request", "not_supported", "timeout", "internal"
	Err  error
}

func (e *RunError) Error() string { return e.Err.Error() }
func (e *RunError) Unwrap() error { return e.Err }

// errorKind classifies a runner's error.
func errorKind(err error) string {
	var re *RunError
	if errors.As(err, &re) {
		return re.Kind
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "timeout"
	}
	return "internal"
}
