package jobqueue

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// MemoryOptions configure a Memory queue. Zero values mean the documented
// defaults.
type MemoryOptions struct {
	// MaxWaiting bounds the jobs waiting to run (default 16); Submit
	// beyond it returns ErrFull.
	MaxWaiting int
	// Workers is the number of jobs run at once (default 1). Jobs on one
	// model are serialized by the pipeline whatever this says.
	Workers int
	// Timeout bounds a job's run when its Spec sets none (default 10m).
	Timeout time.Duration
	// Retain is how long finished jobs and their results stay readable
	// (default 1h).
	Retain time.Duration
	// RetainEphemeral is how long jobs whose Spec is Ephemeral stay
	// readable (default 1m).
	RetainEphemeral time.Duration
	// MaxRetained bounds the finished jobs kept (default 10000), and
	// MaxResultBytes the bytes of their pictures (default 1 GiB); beyond
	// either the oldest are dropped before their time.
	MaxRetained    int
	MaxResultBytes int64
	// Batch, when enabled, runs waiting jobs that share a key together
	// (default: off).
	Batch Batching
	// Now is the clock (default time.Now); tests set it.
	Now func() time.Time
}

func (o *MemoryOptions) fill() {
	if o.MaxWaiting <= 0 {
		o.MaxWaiting = 16
	}
	if o.Workers <= 0 {
		o.Workers = 1
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Minute
	}
	if o.Retain <= 0 {
		o.Retain = time.Hour
	}
	if o.RetainEphemeral <= 0 {
		o.RetainEphemeral = min(time.Minute, o.Retain)
	}
	if o.MaxRetained <= 0 {
		o.MaxRetained = 10000
	}
	if o.MaxResultBytes <= 0 {
		o.MaxResultBytes = 1 << 30
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Memory is a Queue that runs jobs in this process with a Runner.
type Memory struct {
	opts MemoryOptions
	run  Runner

	mu      sync.Mutex
	jobs    map[string]*memJob
	results map[string]stored
	waiting []*memJob
	// finished lists finished jobs in the order they ended, which is
	// also the order they expire in; ephemeral those of ephemeral specs,
	// kept apart because their shorter retention expires them in another
	// order.
	finished    []*memJob
	ephemeral   []*memJob
	resultBytes int64 // bytes of the pictures in results
	running     int
	avgRun      time.Duration
	closed      bool
	// wake holds at most one token: "jobs may be waiting". A worker that
	// takes a job and sees more passes the token on, so idle workers wake
	// in a chain; sends never block, whatever clients submit and cancel.
	wake chan struct{}
	stop context.CancelFunc
	base context.Context
	wg   sync.WaitGroup
}

type stored struct {
	img     Image
	expires time.Time
}

type memJob struct {
	spec    Spec
	status  Status
	events  []Event
	changed chan struct{} // closed and replaced on every new event
	cancel  context.CancelFunc
	expires time.Time
	// cancelRequested marks a running job that Cancel stopped, so that
	// its runner's error reads as a cancellation.
	cancelRequested bool
}

// NewMemory starts a Memory queue whose workers call run.
func NewMemory(run Runner, opts MemoryOptions) *Memory {
	opts.fill()
	base, stop := context.WithCancel(context.Background())
	q := &Memory{
		opts: opts, run: run,
		jobs: map[string]*memJob{}, results: map[string]stored{},
		wake: make(chan struct{}, 1), base: base, stop: stop,
	}
	for range opts.Workers {
		q.wg.Add(1)
		go q.worker()
	}
	return q
}

// Submit implements Queue.
func (q *Memory) Submit(_ context.Context, spec Spec) (string, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return "", ErrClosed
	}
	if len(q.waiting) >= q.opts.MaxWaiting {
		return "", ErrFull
	}
	q.sweepLocked()
	id := NewID()
	j := &memJob{spec: spec, changed: make(chan struct{}),
		status: Status{ID: id, State: Queued, Created: q.opts.Now()}}
	q.jobs[id] = j
	q.waiting = append(q.waiting, j)
	q.emitLocked(j, "status", nil)
	q.signal()
	return id, nil
}

// signal wakes a worker if none is awake to be told.
func (q *Memory) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *Memory) worker() {
	defer q.wg.Done()
	for {
		q.mu.Lock()
		if len(q.waiting) == 0 {
			q.mu.Unlock()
			select {
			case <-q.base.Done():
				return
			case <-q.wake:
			}
			continue
		}
		if q.base.Err() != nil {
			q.mu.Unlock()
			return
		}
		j := q.waiting[0]
		q.waiting = q.waiting[1:]
		if len(q.waiting) > 0 {
			q.signal()
		}
		ctx, cancel := q.startLocked(j)
		key := ""
		if q.opts.Batch.Enabled() {
			key = q.opts.Batch.Key(j.spec)
		}
		q.mu.Unlock()
		if key != "" {
			q.runBatch(j, ctx, cancel, key)
		} else {
			q.runOne(j, ctx, cancel)
		}
	}
}

// runOne runs a job alone with the queue's Runner.
func (q *Memory) runOne(j *memJob, ctx context.Context, cancel context.CancelFunc) {
	out, err := q.run(ctx, j.spec, func(s Step) { q.step(j, s) })
	cancelled := ctx.Err() == context.Canceled
	cancel()
	q.finish(j, out, err, cancelled)
}

func (q *Memory) step(j *memJob, s Step) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if j.status.State != Running {
		return
	}
	j.status.Step, j.status.Total = s.Step, s.Total
	q.emitLocked(j, "step", s.Preview)
}

func (q *Memory) finish(j *memJob, out *Output, err error, cancelled bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.opts.Now()
	q.running--
	run := now.Sub(j.status.Started)
	if q.avgRun == 0 {
		q.avgRun = run
	} else {
		q.avgRun = (q.avgRun*4 + run) / 5
	}
	switch {
	case err == nil:
		j.status.Info = &out.Info
		for i, img := range out.Images {
			key := fmt.Sprintf("%s-%d-%s", j.status.ID, i, NewID())
			q.results[key] = stored{img: img}
			q.resultBytes += int64(len(img.Data))
			j.status.Results = append(j.status.Results, key)
		}
		q.endLocked(j, Succeeded)
		for _, key := range j.status.Results {
			r := q.results[key]
			r.expires = j.expires
			q.results[key] = r
		}
	case cancelled || j.cancelRequested:
		q.endLocked(j, Cancelled)
	default:
		q.endLocked(j, Failed)
		j.status.Error = err.Error()
		j.status.ErrorKind = errorKind(err)
	}
	// Previews matter while the job runs; a finished job's history keeps
	// its steps without them.
	for i := range j.events {
		j.events[i].Preview = nil
	}
	q.emitLocked(j, "status", nil)
}

// emitLocked appends an event with the job's current status and wakes the
// subscribers.
func (q *Memory) emitLocked(j *memJob, typ string, preview []byte) {
	st := j.status
	st.Results = append([]string(nil), st.Results...)
	j.events = append(j.events, Event{Type: typ, Status: st, Preview: preview})
	close(j.changed)
	j.changed = make(chan struct{})
}

// endLocked records that a job reached its final state now.
func (q *Memory) endLocked(j *memJob, state State) {
	now := q.opts.Now()
	if j.spec.Ephemeral {
		j.status.State, j.status.Ended, j.expires = state, now, now.Add(q.opts.RetainEphemeral)
		q.ephemeral = append(q.ephemeral, j)
	} else {
		j.status.State, j.status.Ended, j.expires = state, now, now.Add(q.opts.Retain)
		q.finished = append(q.finished, j)
	}
	q.sweepLocked()
}

// sweepLocked drops expired jobs with their results, and the oldest
// beyond MaxRetained. It touches only the jobs it drops.
func (q *Memory) sweepLocked() {
	q.ephemeral = q.sweepListLocked(q.ephemeral)
	q.finished = q.sweepListLocked(q.finished)
}

// sweepListLocked sweeps one list ordered by expiry and returns what is
// left of it.
func (q *Memory) sweepListLocked(list []*memJob) []*memJob {
	now := q.opts.Now()
	n := 0
	for n < len(list) {
		j := list[n]
		// The newest job stays whatever the limits say: its client has
		// yet to read it.
		overLimits := n < len(list)-1 && (len(list)-n > q.opts.MaxRetained || q.resultBytes > q.opts.MaxResultBytes)
		if !now.After(j.expires) && !overLimits {
			break
		}
		delete(q.jobs, j.status.ID)
		for _, key := range j.status.Results {
			q.resultBytes -= int64(len(q.results[key].img.Data))
			delete(q.results, key)
		}
		list[n] = nil
		n++
	}
	return list[n:]
}

func (q *Memory) job(id string) (*memJob, error) {
	j, ok := q.jobs[id]
	if !ok || (j.status.State.Final() && q.opts.Now().After(j.expires)) {
		return nil, ErrNotFound
	}
	return j, nil
}

// Status implements Queue.
func (q *Memory) Status(_ context.Context, id string) (Status, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	j, err := q.job(id)
	if err != nil {
		return Status{}, err
	}
	st := j.status
	st.Results = append([]string(nil), st.Results...)
	if st.State == Queued {
		for i, w := range q.waiting {
			if w == j {
				st.Position = i
			}
		}
	}
	return st, nil
}

// Cancel implements Queue.
func (q *Memory) Cancel(_ context.Context, id string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	j, err := q.job(id)
	if err != nil {
		return err
	}
	switch j.status.State {
	case Queued:
		for i, w := range q.waiting {
			if w == j {
				q.waiting = append(q.waiting[:i], q.waiting[i+1:]...)
				break
			}
		}
		q.endLocked(j, Cancelled)
		q.emitLocked(j, "status", nil)
	case Running:
		j.cancelRequested = true
		j.cancel()
	}
	return nil
}

// Events implements Queue.
func (q *Memory) Events(ctx context.Context, id string) (<-chan Event, error) {
	q.mu.Lock()
	if _, err := q.job(id); err != nil {
		q.mu.Unlock()
		return nil, err
	}
	j := q.jobs[id]
	q.mu.Unlock()
	ch := make(chan Event)
	go func() {
		defer close(ch)
		next := 0
		for {
			q.mu.Lock()
			pending := append([]Event(nil), j.events[next:]...)
			changed := j.changed
			q.mu.Unlock()
			next += len(pending)
			for _, e := range pending {
				select {
				case ch <- e:
				case <-ctx.Done():
					return
				}
				if e.Type == "status" && e.Status.State.Final() {
					return
				}
			}
			select {
			case <-changed:
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch, nil
}

// Result implements Queue.
func (q *Memory) Result(_ context.Context, key string) (Image, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	r, ok := q.results[key]
	if !ok || q.opts.Now().After(r.expires) {
		return Image{}, ErrNotFound
	}
	return r.img, nil
}

// Stats implements Queue.
func (q *Memory) Stats() Stats {
	q.mu.Lock()
	defer q.mu.Unlock()
	return Stats{Waiting: len(q.waiting), Running: q.running, MaxWaiting: q.opts.MaxWaiting, AvgRun: q.avgRun}
}

// Close implements Queue: it refuses new jobs, lets the waiting and running
// ones finish until ctx ends, then cancels the rest.
func (q *Memory) Close(ctx context.Context) error {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	done := make(chan struct{})
	go func() {
		for {
			st := q.Stats()
			if st.Waiting == 0 && st.Running == 0 {
				close(done)
				return
			}
			select {
			case <-time.After(20 * time.Millisecond):
			case <-ctx.Done():
				close(done)
				return
			}
		}
	}()
	<-done
	q.mu.Lock()
	for _, j := range q.waiting {
		q.endLocked(j, Cancelled)
		q.emitLocked(j, "status", nil)
	}
	q.waiting = nil
	q.mu.Unlock()
	q.stop()
	q.wg.Wait()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("jobqueue: close: %w", err)
	}
	return nil
}

var _ Queue = (*Memory)(nil)

// Wait blocks until job id reaches a final state or ctx ends, and returns
// its last status.
func Wait(ctx context.Context, q Queue, id string) (Status, error) {
	return WaitFunc(ctx, q, id, nil)
}

// WaitFunc is Wait, calling fn (if not nil) with every event on the way.
func WaitFunc(ctx context.Context, q Queue, id string, fn func(Event)) (Status, error) {
	events, err := q.Events(ctx, id)
	if err != nil {
		return Status{}, err
	}
	var last Status
	for e := range events {
		last = e.Status
		if fn != nil {
			fn(e)
		}
	}
	if !last.State.Final() {
		if err := ctx.Err(); err != nil {
			return last, err
		}
		return q.Status(context.WithoutCancel(ctx), id)
	}
	return last, nil
}

// IsFull reports whether err says the queue is full.
func IsFull(err error) bool { return errors.Is(err, ErrFull) }
